import socket

from django.core.management.base import BaseCommand, CommandError

from jobs import model_catalog
from jobs.model_scan import ScanFailed, scan_and_record


class Command(BaseCommand):
    help = (
        "Scan UPSCALER_MODEL_DIR here and record the models jobs may name (as inference workers do when they "
        "start). The scan loads each file with spandrel, so it needs the worker extra (pip install '.[worker]'); "
        "--no-scan only sets descriptions."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--describe",
            nargs=2,
            action="append",
            default=[],
            metavar=("NAME", "TEXT"),
            help="Set a model's description (kept through rescans; an empty TEXT clears it). Repeatable.",
        )
        parser.add_argument("--no-scan", action="store_true", help="Do not scan; only apply --describe")

    def handle(self, describe, no_scan, **options):
        if no_scan and not describe:
            raise CommandError("--no-scan does nothing without --describe NAME TEXT.")
        if not no_scan:
            try:
                summary = scan_and_record(f"{socket.gethostname()} (rescan_models)")
            except ImportError as exc:
                raise CommandError(
                    f"The scan needs torch and spandrel ({exc}): run this where the worker extra is installed "
                    "(pip install '.[worker]'), or restart the inference workers, which scan when they start."
                ) from None
            except ScanFailed as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"{len(summary['usable'])} usable, {len(summary['unusable'])} unusable, "
                f"{len(summary['gone'])} no longer in the model directory"
            )
        for name, text in describe:
            try:
                model_catalog.describe(name, text)
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"described {name}")
        self._print_table()

    def _print_table(self) -> None:
        entries = model_catalog.listing()
        width = max([len(e.name) for e in entries] + [4])
        self.stdout.write(f"{'name':{width}}  {'architecture':14}{'scale':>6}{'parameters':>13}  status")
        for e in entries:
            scale = f"{e.scale}x" if e.scale is not None else "-"
            parameters = f"{e.parameters:,}" if e.parameters is not None else "-"
            status = "available" if e.available else f"unavailable: {e.error}"
            if e.description:
                status += f" - {e.description}"
            self.stdout.write(f"{e.name:{width}}  {e.architecture or '-':14}{scale:>6}{parameters:>13}  {status}")
