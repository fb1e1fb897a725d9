"""A testimony is stored whole or not at all. A request that did not arrive whole (the body ends before
its length, before the closing boundary, or inside a photo: what a dropped Tor circuit looks like)
stores nothing, shows no receipt, and gives back what arrived of the text."""

import io
import socket

import pytest

from intake import blobs
from intake.models import Submission
from tests.conftest import camera_jpeg
from tests.test_floods import (
    ACCOUNT,
    BOUNDARY,
    MULTIPART,
    SUBMIT,
    form_body,
    form_head,
    gunicorn,  # noqa: F401 - a fixture
    post_head,
    read_answer,
    status_of,
)

pytestmark = pytest.mark.django_db


def post_cut(client, sent: bytes, declared: int):
    """A body of which only ``sent`` arrived, though ``declared`` bytes were announced."""
    return client.generic(
        "POST", SUBMIT, b"x", content_type=MULTIPART, CONTENT_LENGTH=str(declared), **{"wsgi.input": io.BytesIO(sent)}
    )


def assert_nothing_stored(response, text_kept=ACCOUNT):
    page = response.content.decode()
    assert response.status_code == 400
    assert "did not arrive whole" in page and "Nothing was stored" in page
    assert "Keep this receipt secret" not in page
    assert text_kept in page
    assert not Submission.objects.exists()
    assert blobs.all_names() == []


def test_a_body_cut_off_in_the_middle_of_a_photo_stores_nothing(client):
    whole = form_body(camera_jpeg(size=(1600, 1200)))
    assert_nothing_stored(post_cut(client, whole[: len(whole) * 2 // 3], len(whole)))


def test_a_body_cut_off_in_the_second_photo_stores_nothing_not_even_the_first(client):
    photo = camera_jpeg()
    second_part = (
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="images"; filename="IMG_2.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    whole = form_head() + photo + second_part + photo + f"\r\n--{BOUNDARY}--\r\n".encode()
    sent = form_head() + photo + second_part + photo[:1000]
    assert_nothing_stored(post_cut(client, sent, len(whole)))


def test_a_body_cut_off_in_the_text_stores_nothing_and_gives_back_what_arrived(client):
    whole = form_body(camera_jpeg())
    cut_at = whole.index(b"took my") + len(b"took my")
    assert_nothing_stored(post_cut(client, whole[:cut_at], len(whole)), text_kept="Men in masks took my")


def test_a_body_that_ends_before_its_closing_boundary_stores_nothing(client):
    """Every declared byte came, but the form was never closed: the testimony may lack its end."""
    text_only = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="account"\r\n\r\n{ACCOUNT}\r\n').encode()
    response = client.generic("POST", SUBMIT, text_only, content_type=MULTIPART)
    assert_nothing_stored(response)


def test_a_whole_body_is_stored_and_the_receipt_counts_its_photos(client):
    whole = form_body(camera_jpeg(size=(1600, 1200)))
    response = client.generic("POST", SUBMIT, whole, content_type=MULTIPART)
    assert "Keep this receipt secret" in response.content.decode()
    assert "It came with 1 photo or video." in response.content.decode()
    assert Submission.objects.get().images.count() == 1


def test_the_real_server_stores_nothing_of_a_body_cut_off_mid_photo(gunicorn):  # noqa: F811
    """A client that sends half of its photo and then closes its side of the connection, as a Tor
    circuit that drops does; then the same request whole, which is stored."""
    server = gunicorn()
    cookie, token = server.csrf()
    whole = form_body(camera_jpeg(size=(1600, 1200)) + b"\0" * 2_000_000, token)
    with server.connect() as connection:
        connection.sendall(post_head(SUBMIT, cookie, len(whole)) + whole[: len(whole) // 2])
        connection.shutdown(socket.SHUT_WR)  # the body ends here
        answer = read_answer(connection)
    assert status_of(answer) == 400
    assert b"did not arrive whole" in answer and ACCOUNT.encode() in answer
    assert b"Keep this receipt secret" not in answer
    assert not Submission.objects.exists()
    assert blobs.all_names() == []

    answer = server.see_other(server.exchange(post_head(SUBMIT, cookie, len(whole)) + whole))
    assert status_of(answer) == 200 and b"It came with 1 photo or video." in answer
    assert Submission.objects.count() == 1
