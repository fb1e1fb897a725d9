"""The blind index of what was stored before it (intake.search): every submission's words, as keyed tokens."""

from django.db import migrations

from intake import search


def index_stored(apps, schema_editor):
    """What ``search.index_submission`` does, with the models as they are at this migration."""
    Submission = apps.get_model("intake", "Submission")
    Message = apps.get_model("intake", "Message")
    Note = apps.get_model("intake", "Note")
    IndexedWord = apps.get_model("intake", "IndexedWord")
    for submission in Submission.objects.order_by("pk").iterator(chunk_size=200):
        texts = [submission.account, submission.happened_when, submission.happened_where]
        texts += [message.text for message in Message.objects.filter(submission=submission).order_by("position")]
        texts += [note.text for note in Note.objects.filter(submission=submission).order_by("created_at")]
        IndexedWord.objects.filter(submission=submission).delete()
        IndexedWord.objects.bulk_create(
            (IndexedWord(submission_id=submission.pk, token=token) for token in search.tokens_of(*texts)),
            batch_size=1000,
        )


def forget_index(apps, schema_editor):
    apps.get_model("intake", "IndexedWord").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("intake", "0012_digests")]
    operations = [migrations.RunPython(index_stored, forget_index)]
