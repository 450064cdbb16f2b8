"""The production shape on loopback, for the soak and the queue benchmarks: a scratch PostgreSQL
database, the Redis broker (django-tasks-rq), gunicorn, `manage.py workers`, `manage.py scheduler`,
and the LINE Platform emulator served from the driver's own process (so the driver sees every reply
and push LINE would have received, with the time it arrived).

Everything listens on 127.0.0.1 only. The database is created at start and dropped at the end; the
Redis database used is an empty one among 8–15 and is flushed at the end.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_URL = os.environ.get("MADOGUCHI_SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_admin():
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(PG_URL)
    return psycopg.connect(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432, user=config["USER"],
                           password=config["PASSWORD"] or None, dbname=config["NAME"] or "postgres",
                           autocommit=True, connect_timeout=3), config


def _redis():
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=3, socket_connect_timeout=3)


def default_worker_counts() -> dict[str, int]:
    """`manage.py workers`' documented counts per queue."""
    from madoguchi.operations.management.commands.workers import DEFAULT_COUNTS

    return dict(DEFAULT_COUNTS)


def unavailable() -> str:
    """Why the stack cannot run here ('' when PostgreSQL and Redis both answer)."""
    try:
        conn, _config = _pg_admin()
        conn.close()
    except Exception as exc:
        return f"PostgreSQL does not answer at {PG_URL} ({exc.__class__.__name__})"
    try:
        _redis().ping()
    except Exception as exc:
        return f"Redis does not answer at {REDIS_HOST}:{REDIS_PORT} ({exc.__class__.__name__})"
    return ""


@dataclass
class Delivery:
    """One call our workers made to the emulated Messaging API."""

    at: float  # time.monotonic() when it arrived
    kind: str  # "reply" or "push"
    status: int
    token: str = ""  # reply token (reply)
    to: str = ""  # user id (push)
    retry_key: str = ""


@dataclass
class Recorder:
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app):
        """The emulator's app, recording each reply and push. Those two go straight to the emulator's
        views (madoguchi/line/emulator/views.py: the same token, retry-key and message checks) without
        Django's middleware and URL resolution: at 100 answers a second that stack cost this process,
        which also drives the load, more than the answers themselves; LINE's own servers are not on
        the host under test."""
        import io
        import json

        from django.core.handlers.wsgi import WSGIRequest

        from madoguchi.line.emulator import views

        def recorded(environ, start_response):
            path = environ.get("PATH_INFO", "")
            kind = "reply" if path.endswith("/message/reply") else "push" if path.endswith("/message/push") else ""
            if not kind:
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)
            response = (views.reply if kind == "reply" else views.push)(WSGIRequest(environ))
            start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            with self.lock:
                self.deliveries.append(Delivery(
                    at=time.monotonic(), kind=kind, status=response.status_code,
                    token=str(body.get("replyToken", "")), to=str(body.get("to", "")),
                    retry_key=environ.get("HTTP_X_LINE_RETRY_KEY", "")))
            return [response.content]

        return recorded


def _pooled_server_class():
    import socketserver
    from concurrent.futures import ThreadPoolExecutor

    from django.core.servers.basehttp import WSGIServer

    class Pooled(socketserver.ThreadingMixIn, WSGIServer):
        """The emulator's HTTP server: connections are served on a fixed pool of threads, each keeping
        its database connection, and kept alive between requests as LINE's servers do (Django keeps a
        connection alive only for a ThreadingMixIn server; `process_request` below replaces its thread
        per connection with the pool). Django's ThreadedWSGIServer starts a thread and opens and closes a
        database connection per request, which at 100 LINE answers a second cost the emulator — this
        process — more CPU than the workers it measures. An idle kept connection is dropped after
        `KEEP_ALIVE` seconds so it does not hold a thread for ever."""

        allow_reuse_address = True
        daemon_threads = True
        block_on_close = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.pool = ThreadPoolExecutor(max_workers=EMULATOR_THREADS, thread_name_prefix="emulator")

        def process_request(self, request, client_address):
            request.settimeout(KEEP_ALIVE)
            self.pool.submit(self._serve, request, client_address)

        def _serve(self, request, client_address):
            try:
                self.finish_request(request, client_address)
            except (TimeoutError, ConnectionError):
                pass  # an idle kept connection timed out, or the client went away
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

        def server_close(self):
            super().server_close()
            self.pool.shutdown(wait=False, cancel_futures=True)

    return Pooled


KEEP_ALIVE = 15  # seconds an idle emulator connection is kept
# A kept connection holds its thread: enough for every client connection of the workers (each line
# worker keeps up to 10, one per answer sent side by side) and the rest.
EMULATOR_THREADS = 128


def PooledWSGIServer(*args, **kwargs):  # noqa: N802 (a class, built once Django is set up)
    return _pooled_server_class()(*args, **kwargs)


class Stack:
    """`with Stack(...) as stack:` — the database exists, Django is set up in this process against
    it, and gunicorn, the workers, the scheduler and the emulator are running."""

    def __init__(self, name: str, *, web_workers: int = 2, worker_counts: dict[str, int] | None = None):
        self.name = f"madoguchi_{name}_{secrets.token_hex(4)}"
        self.web_workers = web_workers
        self.worker_counts = worker_counts or default_worker_counts()
        self.recorder = Recorder()
        self.processes: dict[str, subprocess.Popen] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.mail_dir = self.tmp / "mail"
        self.mail_dir.mkdir()
        self.redis_db = None
        self.emulator = None

    # --- set-up ---------------------------------------------------------------------------------

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _pick_redis_db(self) -> int:
        import redis

        for db in range(8, 16):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
            if client.dbsize() == 0 and client.set("madoguchi:bench:owner", self.name, nx=True):
                return db
        raise RuntimeError("no empty Redis database among 8-15")

    def _start(self) -> None:
        conn, config = _pg_admin()
        with conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
        self.database_url = f"postgres://{auth}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{self.name}"
        self.redis_db = self._pick_redis_db()
        self.web_port, self.emulator_port = free_port(), free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "madoguchi.settings", "DEBUG": "1",
            "DATABASE_URL": self.database_url, "DB_CONN_MAX_AGE": "600",
            "MADOGUCHI_TASK_BACKEND": "rq", "MADOGUCHI_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            "MADOGUCHI_SITE_URL": self.web_url,
            "MADOGUCHI_LINE_API_BASE_URL": f"http://127.0.0.1:{self.emulator_port}/line-emulator",
            "MADOGUCHI_LINE_API_DATA_BASE_URL": f"http://127.0.0.1:{self.emulator_port}/line-emulator",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir), "LOG_LEVEL": "ERROR", "MADOGUCHI_LOG_FORMAT": "text",
        }
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self._start_emulator()
        self._start_processes()

    def _start_emulator(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.servers.basehttp import WSGIRequestHandler

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.emulator = PooledWSGIServer(("127.0.0.1", self.emulator_port), Quiet)
        self.emulator.set_app(self.recorder.wrap(WSGIHandler()))
        threading.Thread(target=self.emulator.serve_forever, daemon=True).start()

    def _log(self, name: str):
        return open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)

    def _start_processes(self) -> None:
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        self.processes["web"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "madoguchi.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
             "--workers", str(self.web_workers), "--threads", "4", "--worker-class", "gthread",
             "--graceful-timeout", "5"], env=self.env, cwd=BASE_DIR, stdout=self._log("web"),
            stderr=subprocess.STDOUT)
        counts = [f"--{queue}={count}" for queue, count in self.worker_counts.items()]
        self.processes["workers"] = subprocess.Popen([*manage, "workers", *counts], env=self.env, cwd=BASE_DIR,
                                                     stdout=self._log("workers"), stderr=subprocess.STDOUT)
        self.processes["scheduler"] = subprocess.Popen([*manage, "scheduler"], env=self.env, cwd=BASE_DIR,
                                                       stdout=self._log("scheduler"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.web_port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"gunicorn did not start (see {self.tmp / 'web.log'})")
        deadline = time.monotonic() + 90
        wanted = sum(self.worker_counts.values())
        while len(self.worker_pids()) < wanted and time.monotonic() < deadline:
            time.sleep(0.5)

    # --- processes --------------------------------------------------------------------------------

    @staticmethod
    def children(pid: int) -> list[int]:
        found = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    found += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return found

    @staticmethod
    def cmdline(pid: int) -> list[str]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return [p.decode(errors="replace") for p in f.read().split(b"\0") if p]
        except OSError:
            return []

    def worker_pids(self, queue: str | None = None) -> list[int]:
        """The rqworker processes `manage.py workers` supervises (for one queue, or all)."""
        pids = []
        for pid in self.children(self.processes["workers"].pid):
            args = self.cmdline(pid)
            if "rqworker" in args and (queue is None or args[-1] == queue):
                pids.append(pid)
        return pids

    def busy_worker_pids(self, queue: str) -> list[int]:
        """The workers of `queue` running a job now: a forking worker has a work horse; a warm one
        (operations/rq_worker.py, no work horse) says `busy` in its RQ record."""
        pids = self.worker_pids(queue)
        busy = [pid for pid in pids if self.children(pid)]
        if busy:
            return busy
        import django_rq
        from rq import Worker

        try:
            records = Worker.all(queue=django_rq.get_queue(queue))
            return [w.pid for w in records if w.pid in pids and w.get_state() == "busy"]
        except Exception:  # a record half-written by a worker starting or dying
            return []

    def kill_worker(self, queue: str, wait: float = 20.0) -> tuple[int | None, bool]:
        """SIGKILL one worker of `queue` together with the work horse it forked for the job it runs
        (as when the host or container dies); `manage.py workers` starts a new one. Waits up to
        `wait` seconds for a worker that is running a job and kills that one; returns the pid and
        whether it was mid-job."""
        deadline = time.monotonic() + wait
        while True:
            pids = self.worker_pids(queue)
            busy = self.busy_worker_pids(queue)
            if busy or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        victim = (busy or pids or [None])[0]
        if victim is None:
            return None, False
        family, todo = [], [victim]
        while todo:
            pid = todo.pop()
            family.append(pid)
            todo += self.children(pid)
        for pid in family:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return victim, bool(busy)

    def kill_web_worker(self) -> int | None:
        """SIGKILL one gunicorn worker process mid-traffic; the gunicorn master starts another."""
        pids = self.children(self.processes["web"].pid)
        if not pids:
            return None
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    # --- tear-down --------------------------------------------------------------------------------

    def __exit__(self, *exc):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in self.children(process.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.kill()
                process.wait()
        if self.emulator is not None:
            self.emulator.shutdown()
            self.emulator.server_close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if getattr(self, "database_url", None):
            conn, _config = _pg_admin()
            with conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if self.redis_db is not None:
            import redis

            redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db).flushdb()
        return False
