"""A submission exported by a reviewer as a signed evidence package, downloaded as a ZIP (intake.evidence).

Only an Exporter (both roles, both factors: ``access.submission_for_export``) may; anyone else gets the
404 every staff view gives. The ZIP is streamed as it is made: no copy is left on the server's disk,
and the browser is told to store none (``no-store``). The export is audited before the first byte goes.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from intake import access, evidence


@require_POST
@login_required
def export(request, submission_id):
    submission = access.submission_for_export(request.user, submission_id)
    with_notes = request.POST.get("with_notes") == "on"
    try:
        exported, chunks = evidence.export_as_zip(submission, request.user, with_notes=with_notes)
    except evidence.ExportRefused as error:
        refusal = _("Not exported: a file is not the one recorded when it was received (%(problem)s).")
        messages.error(request, refusal % {"problem": error}, extra_tags="export")
        return HttpResponseRedirect(reverse("review:submission", args=[submission.pk]) + "#export")
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{exported.reference}.zip"'
    response["Cache-Control"] = "no-store"
    response["X-Manifest-SHA256"] = exported.manifest_sha256
    return response
