"""The message broker, made safe to lose: transports that a bad message cannot stop, and the web's
hand-off of work to the worker, which never holds up a witness.

A message carries only an image id, and the image is stored as pending before the message is sent. So a
message that is dropped, never sent or never read loses nothing: the worker's sweeps enqueue every image
that waits with no message (``intake.tasks``). What must not happen is a worker stopped by one bad
message, or a witness kept waiting for a broker that does not answer.

``settings.CELERY_BROKER_TRANSPORT`` names one of the two transports below.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import threading
import time
from datetime import UTC, datetime
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, redis, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

DROPPED = "a broker message that is not one of ours was dropped"


def _is_message(channel, payload) -> bool:
    """Whether the transport can deliver ``payload``: JSON with a message's envelope. (What is inside the
    envelope, such as an unknown task or an undecodable body, Celery reports and drops itself.)"""
    try:
        channel.Message(payload, channel=channel)  # what the transport does next, which must not fail there
    except Exception:  # noqa: BLE001 - whatever is wrong with it, it is not a message
        return False
    return True


def _readable(channel, raw: bytes) -> dict | None:
    """The message in ``raw``, or None if it is empty, cut off, not JSON or not a message."""
    try:
        payload = loads(bytes_to_str(raw))
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    return payload if _is_message(channel, payload) else None


class _DropsWhatCeleryCannotTake:
    """Celery reports and drops most bad messages itself, but not all: a message of our task whose body is
    JSON of the wrong shape raises out of its handler and stops the worker ("Unrecoverable error"), and
    the message, never acknowledged, is put back to stop the next worker too. Here it is dropped."""

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        def guarded(message):
            try:
                return callback(message)
            except Exception:  # noqa: BLE001 - whatever it is, one message must not stop the worker
                log.warning(DROPPED)
                if not message.acknowledged:
                    with contextlib.suppress(Exception):
                        message.ack()
                return None

        return super().basic_consume(queue, no_ack, guarded, consumer_tag, **kwargs)


# --- The file-system broker (the laptop default) ------------------------------------------------


class FilesystemChannel(_DropsWhatCeleryCannotTake, filesystem.Channel):
    """Messages are files. Kombu's own channel lets a reader take a file that is still being written, and
    a message file left empty by a full disk then stops the worker (a JSONDecodeError nobody catches).

    Kombu names a message by the milliseconds since the machine started, and leaves it and its folder
    with the times it was written: while the worker is away, the folder dates each waiting upload. Here a
    message is named by the day it was sent and 128 random bits, so messages are taken day by day, in no
    order within a day; its times and the folder's are set to midnight after each message is put or
    taken, and the folder is listed without updating its access time (as intake.blobs does for blobs)."""

    def _put(self, queue, payload, **kwargs):
        # Written under a name no reader takes, then renamed: a reader sees a whole message or none, and a
        # write that fails leaves nothing behind.
        final = f"{datetime.now(UTC):%Y%m%d}_{secrets.token_hex(16)}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, final + ".part")
        try:
            with open(partial, "xb") as file:
                file.write(str_to_bytes(dumps(payload)))
            _blur_times(partial)
            os.replace(partial, os.path.join(self.data_folder_out, final))
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from error
        finally:
            _blur_times(self.data_folder_out)

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for filename in sorted(_listing(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            path = os.path.join(self.data_folder_in, filename)
            # Renamed in its own folder to take it (kombu moves it to the temporary folder, which may be
            # another disk, and a full one): whoever renames first has it.
            taken = path + ".taken"
            try:
                os.rename(path, taken)
            except OSError:
                continue
            try:
                with open(taken, "rb") as file:
                    raw = file.read()
            except OSError as error:
                raise ChannelError(f"Cannot read the message {taken!r}") from error
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(taken)
                _blur_times(self.data_folder_in)
            payload = _readable(self, raw)
            if payload is None:
                log.warning(DROPPED)
                continue
            return payload
        raise Empty()

    def _size(self, queue):
        return sum(1 for filename in _listing(self.data_folder_in) if filename.partition(".")[2] == f"{queue}.msg")

    def _purge(self, queue):
        count = 0
        for filename in _listing(self.data_folder_in):
            if filename.partition(".")[2] == f"{queue}.msg":
                with contextlib.suppress(OSError):  # taken by a worker in the meantime
                    os.remove(os.path.join(self.data_folder_in, filename))
                    count += 1
        if count:
            _blur_times(self.data_folder_in)
        return count


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


def _blur_times(path: str) -> None:
    """Set the times of a message file or of the folder to midnight (UTC). Best effort: a message is worth
    more than its times, and the sweeps re-send what is lost anyway."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    with contextlib.suppress(OSError):
        os.utime(path, (midnight, midnight))


def _listing(folder: str) -> list[str]:
    """The names in ``folder``, read without updating its access time where the system allows
    (``O_NOATIME``, Linux, for a folder the service's user owns)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        descriptor = os.open(folder, flags | noatime)
    except PermissionError:  # not the folder's owner: O_NOATIME is refused, not ignored
        descriptor = os.open(folder, flags)
    try:
        return os.listdir(descriptor)
    finally:
        os.close(descriptor)


# --- Redis ----------------------------------------------------------------------------------------


class RedisQoS(redis.QoS):
    """An acknowledgement that Redis does not answer (frozen, restarting) raises, and kombu then keeps
    the message as unacknowledged in the worker for good. With one message prefetched at a time, the
    worker never takes another: it is alive, connected, and idle for ever. Here the worker lets the
    message go whatever Redis answered; Redis itself still holds it as unacknowledged, and gives it
    back after the visibility timeout (the task is then run again, which does nothing twice)."""

    def ack(self, delivery_tag):
        try:
            self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            else:
                self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)


class RedisChannel(_DropsWhatCeleryCannotTake, redis.Channel):
    """Kombu's Redis channel pops an item off the queue and parses it: an item that is not a message
    (anything pushed onto the list) raises out of the worker's event loop and stops it. The item is
    already gone from Redis then; it is dropped, and the worker goes on."""

    QoS = RedisQoS

    def _brpop_read(self, **options):
        try:
            return super()._brpop_read(**options)
        # Kombu's own parse of the item; what Celery fails to decode later, it reports and drops itself.
        except (json.JSONDecodeError, UnicodeDecodeError, _NotAMessage):
            log.warning(DROPPED)
            raise Empty() from None


class _NotAMessage(Exception):
    pass


class RedisTransport(redis.Transport):
    Channel = RedisChannel

    def _deliver(self, message, queue):
        channel = next((channel for channel in self.channels if channel), None)
        if channel is not None and not _is_message(channel, message):
            raise _NotAMessage()
        super()._deliver(message, queue)


# --- The web's hand-off ---------------------------------------------------------------------------

# An image id waits here at most this long for the broker; then the worker's sweep will find the image.
HAND_OFF_SECONDS = 120
HAND_OFF_QUEUE = 1000

_hand_offs: queue.Queue | None = None
_hand_offs_pid: int | None = None
_hand_offs_lock = threading.Lock()


def hand_off(image_id: str) -> None:
    """Send the cleaning of ``image_id`` to the worker from a thread of this process, and return at once.

    A broker that does not answer (down, frozen, a full disk under the file-system broker) must not hold
    up the witness's receipt. The thread tries again with backoff for HAND_OFF_SECONDS, then gives up:
    the image is stored as pending, and the worker's sweep enqueues it. Nothing is logged: the time of a
    log line written here would say when a witness submitted.
    """
    with contextlib.suppress(queue.Full):
        _hand_off_queue().put_nowait(str(image_id))


def wait_for_hand_offs(timeout: float) -> bool:
    """Whether every image handed off by this process was sent or given up within ``timeout`` seconds."""
    pending = _hand_offs
    deadline = time.monotonic() + timeout
    while pending is not None and pending.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    return pending is None or not pending.unfinished_tasks


def _hand_off_queue() -> queue.Queue:
    global _hand_offs, _hand_offs_pid
    with _hand_offs_lock:
        # A process forked from this one (gunicorn's workers) has the queue but not the thread.
        if _hand_offs is None or _hand_offs_pid != os.getpid():
            _hand_offs, _hand_offs_pid = queue.Queue(maxsize=HAND_OFF_QUEUE), os.getpid()
            threading.Thread(target=_send_forever, args=(_hand_offs,), name="intake-hand-off", daemon=True).start()
        return _hand_offs


def _send_forever(pending: queue.Queue) -> None:
    while True:
        image_id = pending.get()
        try:
            _send(image_id)
        finally:
            pending.task_done()


def _send(image_id: str) -> None:
    from intake.tasks import clean_image

    deadline = time.monotonic() + HAND_OFF_SECONDS
    pause = 0.5
    while True:
        try:
            clean_image.apply_async((image_id,), retry=False)
            return
        except Exception:  # noqa: BLE001 - any failure of the broker: try again, then leave it to the sweep
            if time.monotonic() + pause > deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, 8)
