"""Handing a message to the SMTP server: TLS verified, AUTH from the environment, one error type.

Every failure becomes a DeliveryError naming the server and the fault class (DNS,
connection, TLS, login, sender/recipient/message refused, timeout), so a person knows
whether to fix the host name, the network, the certificate, the password or an address.
No message, log line or error ever carries the password.
"""

from __future__ import annotations

import base64
import logging
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage

from monitor.errors import DeliveryError
from monitor.settings import SMTP_PASSWORD_ENV, Email

log = logging.getLogger(__name__)


def tls_context(email: Email) -> ssl.SSLContext:
    """Return a context verifying the server's certificate (and host name), by a private CA
    when ``tls_ca_file`` is set."""
    try:
        return ssl.create_default_context(cafile=email.tls_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(
            server_name(email),
            "TLS",
            f"cannot read tls_ca_file {email.tls_ca_file}: {getattr(exc, 'strerror', None) or exc}",
            "fix [email] tls_ca_file",
        ) from None


def server_name(email: Email) -> str:
    host = f"[{email.host}]" if ":" in email.host else email.host
    return f"{host}:{email.smtp_port}"


def _scrub(text: str, password: str | None) -> str:
    """Return ``text`` as one line with the password and its AUTH encodings removed."""
    line = " ".join(str(text).split())[:300]
    if password:
        forms = {password, base64.b64encode(password.encode()).decode()}
        for form in forms:
            if len(form) >= 4:
                line = line.replace(form, "[redacted]")
    return line


def _said(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"{exc.smtp_code} {text}"


def _classify(exc: BaseException, email: Email) -> tuple[str, str, str]:
    """Return (fault, detail, hint) for an exception raised while sending."""
    host = email.host
    if isinstance(exc, socket.gaierror):
        return "DNS", f"cannot resolve {host}", "check [email] host and this machine's DNS"
    if isinstance(exc, TimeoutError | socket.timeout) or isinstance(
        exc.__context__, TimeoutError | socket.timeout
    ):  # smtplib reports a read timeout as "server disconnected"
        return (
            "timeout",
            f"no answer within {email.timeout_seconds:g} s",
            "check that the server is up and not blocked by a firewall",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "TLS",
            f"certificate not trusted: {exc.verify_message or exc.reason}",
            "set [email] tls_ca_file to the CA that signed the server's certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return "TLS", f"TLS handshake failed: {exc.reason or exc}", "check [email] security"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            "TLS",
            "the server does not offer STARTTLS",
            'use security = "ssl" (port 465) or a server that offers STARTTLS',
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            "login",
            f"login refused for {email.username}: {_said(exc)}",
            f"check [email] username and {SMTP_PASSWORD_ENV}",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(sorted(exc.recipients))
        first = next(iter(exc.recipients.values()), (0, b""))
        said = first[1].decode("utf-8", "replace") if isinstance(first[1], bytes) else first[1]
        return (
            "recipient refused",
            f"{refused} refused: {first[0]} {said}",
            "check [email] to and cc",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "sender refused", f"{exc.sender} refused: {_said(exc)}", "check [email] from"
    if isinstance(exc, smtplib.SMTPDataError):
        return "message refused", _said(exc), "the server would not take the message"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "connection", f"the server closed the connection ({exc})", "try again later"
    if isinstance(exc, smtplib.SMTPResponseException):
        return "SMTP", _said(exc), "see the server's answer"
    if isinstance(exc, smtplib.SMTPException):
        return "SMTP", str(exc) or type(exc).__name__, "see the server's answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection", "connection refused", "check [email] host and port, and the server"
    if isinstance(exc, OSError):
        return (
            "connection",
            exc.strerror or str(exc) or type(exc).__name__,
            "check [email] host and port, and the network",
        )
    return "SMTP", f"{type(exc).__name__}: {exc}", "rerun with -v for details"


def send(email: Email, msg: EmailMessage) -> None:
    """Hand ``msg`` to the configured server for every recipient (To and Cc).

    STARTTLS or SSL with a verified certificate unless ``security = "none"`` (loopback
    only); AUTH when ``username`` is set, the password from ``HASHMON_SMTP_PASSWORD``.
    Raises DeliveryError; a recipient refused while others were accepted is a failure
    too, since someone on the team would miss the report.
    """
    password = os.environ.get(SMTP_PASSWORD_ENV) or None
    server = server_name(email)
    if email.username and not password:
        raise DeliveryError(
            server, "login", f"{SMTP_PASSWORD_ENV} is not set", "set it for the login user"
        )
    context = tls_context(email) if email.security != "none" else None
    try:
        if email.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                email.host, email.smtp_port, timeout=email.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(email.host, email.smtp_port, timeout=email.timeout_seconds)
        try:
            client.ehlo()
            if email.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if email.username:
                client.login(email.username, password or "")
            refused = client.send_message(msg, email.sender, list(email.recipients))
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        fault, detail, hint = _classify(exc, email)
        raise DeliveryError(server, fault, _scrub(detail, password), hint) from None
    log.info("e-mail %r accepted by %s", msg["Subject"], server)
