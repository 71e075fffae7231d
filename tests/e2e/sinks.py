"""Real receivers for rule sinks, started by the tests: an HTTP webhook receiver, an SMTP
server (aiosmtpd) and a RabbitMQ broker (Debian's rabbitmq-server) on loopback."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """Records POSTed JSON bodies; `status` decides the answer (e.g. 503 to fail)."""

    def __init__(self, port=0):
        self.received = []
        self.deliveries = []
        self.status = 200
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                status = receiver.status
                if status == 200:
                    with receiver.lock:
                        receiver.received.append(json.loads(body))
                        receiver.deliveries.append(self.headers.get("x-strata-delivery"))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"webhook got {len(self.received)} of {count} messages")


class SmtpSink:
    """An aiosmtpd server keeping every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(envelope)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def wait_for(self, count, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.messages) >= count:
                return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"SMTP got {len(self.messages)} of {count} messages")


class RabbitMQ:
    """A private RabbitMQ node on loopback, with its data in a temporary directory so a
    restart keeps durable queues."""

    def __init__(self):
        if not os.path.exists(SERVER):
            raise RuntimeError("rabbitmq-server is missing (apt-get install rabbitmq-server)")
        self.dir = tempfile.mkdtemp(prefix="strata-rmq-")
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"strata{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2f"
        self.proc = None
        self.start()

    def env(self):
        env = dict(os.environ)
        env.update({
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": f"{self.dir}/mnesia",
            "RABBITMQ_LOG_BASE": f"{self.dir}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{self.dir}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{self.dir}/rabbitmq",
            "RABBITMQ_PID_FILE": f"{self.dir}/pid",
            "HOME": self.dir,
        })
        return env

    def start(self, timeout=90):
        import pika

        with open(f"{self.dir}/enabled_plugins", "w") as f:
            f.write("[].\n")
        with open(f"{self.dir}/rabbitmq.conf", "w") as f:
            f.write("loopback_users = none\n")
        deadline = time.time() + timeout
        while time.time() < deadline:
            # The node itself, not Debian's wrapper: the wrapper switches user with `su`,
            # which starts a new session that a test could not stop as one process group.
            self.proc = subprocess.Popen([SERVER], env=self.env(), cwd=self.dir,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    pika.BlockingConnection(pika.URLParameters(self.url)).close()
                    return
                except Exception:
                    time.sleep(0.5)
            # Right after a kill the node name can still be registered: try again.
            time.sleep(1)
        raise RuntimeError(f"rabbitmq-server did not start in time; see {self.dir}/log")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
