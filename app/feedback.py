"""`python -m app.feedback`: read feedback reports, and send an undelivered one to Slack again.

    python -m app.feedback list [--limit 20] [--undelivered]
    python -m app.feedback show <feedback id>
    python -m app.feedback retry <feedback id>

It reads the same settings as the server (DATABASE_URL, SLACK_WEBHOOK_URL); on Render, run it in
the service's Shell tab.
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.models import Feedback
from app.services import feedback as feedback_service
from app.settings import Settings, load_settings

PREVIEW_CHARS = 70


def _delivery(report: Feedback) -> str:
    if report.delivered_at is not None:
        return f"delivered {report.delivered_at:%Y-%m-%d %H:%M:%S}"
    if report.delivery_job_id is None and not report.attempts:
        return "not sent"
    error = f", last error: {report.last_error}" if report.last_error else ""
    return f"not delivered ({report.attempts} attempt(s){error})"


def _line(report: Feedback) -> str:
    preview = " ".join(report.message.split())
    if len(preview) > PREVIEW_CHARS:
        preview = preview[: PREVIEW_CHARS - 1] + "…"
    return (
        f"{report.id}  {report.created_at:%Y-%m-%d %H:%M}  {report.vendor_id or 'anonymous'}  "
        f"[{_delivery(report)}]  {preview}\n"
    )


def _details(report: Feedback) -> str:
    return (
        f"id:          {report.id}\n"
        f"received:    {report.created_at:%Y-%m-%d %H:%M:%S} UTC\n"
        f"sent at:     {report.client_timestamp} (client clock)\n"
        f"page:        {report.url}\n"
        f"vendor:      {report.vendor_id or 'anonymous'}\n"
        f"request id:  {report.request_id or '-'}\n"
        f"delivery:    {_delivery(report)}\n"
        f"\n{report.message}\n"
    )


async def _run(session: AsyncSession, args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "list":
        reports = await feedback_service.recent_reports(
            session, limit=args.limit, undelivered_only=args.undelivered
        )
        sys.stdout.write("".join(_line(report) for report in reports) or "no reports\n")
        return 0
    if args.command == "show":
        report = await feedback_service.find_report(session, feedback_id=args.feedback_id)
        if report is None:
            sys.stderr.write(f"no report {args.feedback_id}\n")
            return 1
        sys.stdout.write(_details(report))
        return 0
    if not settings.slack_configured:
        sys.stderr.write("SLACK_WEBHOOK_URL is not set: there is nowhere to send it\n")
        return 1
    try:
        report = await feedback_service.resend_report(session, feedback_id=args.feedback_id)
    except feedback_service.ReportNotFoundError:
        sys.stderr.write(f"no report {args.feedback_id}\n")
        return 1
    except feedback_service.ReportAlreadyDeliveredError:
        sys.stderr.write(f"{args.feedback_id} was already delivered\n")
        return 1
    except feedback_service.ReportAlreadyQueuedError:
        sys.stderr.write(f"{args.feedback_id} is already queued for delivery\n")
        return 1
    sys.stdout.write(f"{report.id} queued for Slack (job {report.delivery_job_id})\n")
    return 0


async def run(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session:
            return await _run(session, args, settings)
    finally:
        await engine.dispose()


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.feedback", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the newest reports, one per line")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--undelivered", action="store_true", help="only those not delivered")
    show = commands.add_parser("show", help="one report in full")
    show.add_argument("feedback_id")
    retry = commands.add_parser("retry", help="queue an undelivered report for Slack again")
    retry.add_argument("feedback_id")
    return parser.parse_args(argv)


def main() -> int:
    args = parse()
    return asyncio.run(run(load_settings(), args))


if __name__ == "__main__":
    sys.exit(main())
