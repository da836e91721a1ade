"""A real SMTP server for the tests: Debian's aiosmtpd, storing every mail it accepts in
a Maildir. Recipients starting with "bounce" are refused with 550 (a permanent failure).

    python3 smtp_server.py HOST PORT MAILDIR

Prints "ready" once it accepts connections; runs until killed.
"""
import signal
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    host, port, maildir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    controller = Controller(Handler(maildir), hostname=host, port=port)
    controller.start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
