from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference import registry
from inference.fetch import fetch_models


class Command(BaseCommand):
    help = "Download the official model weights into UPSCALER_MODEL_DIR and verify their sha256."

    def add_arguments(self, parser):
        known = ", ".join(registry.known_names())
        parser.add_argument("names", nargs="*", help=f"Models to fetch (default: all but the pipelines): {known}")
        parser.add_argument("--dir", default=None, help="Model directory (default: UPSCALER_MODEL_DIR)")
        parser.add_argument("--base-url", default=None, help="Mirror to download from instead of the official URLs")
        parser.add_argument("--force", action="store_true", help="Download again even if a valid file is present")

    def handle(self, names, dir, base_url, force, **options):
        unknown = [n for n in names if n not in registry.known_names()]
        if unknown:
            raise CommandError(f"Unknown model(s): {', '.join(unknown)}. Known: {', '.join(registry.known_names())}")
        try:
            paths = fetch_models(
                names or None,
                dir or settings.UPSCALER_MODEL_DIR,
                base_url=base_url,
                force=force,
                log=lambda msg: self.stdout.write(str(msg)),
            )
        except Exception as exc:
            raise CommandError(str(exc)) from exc
        for path in paths:
            self.stdout.write(f"ok {path}")
