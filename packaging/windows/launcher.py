"""The bundle's entry point, for both of its programs (packaging/windows/octopus.spec):
`OctopusPhotos.exe` (no console: the tray launcher) and `octopus.exe` (a console: the command
line, e.g. `octopus.exe backup E:\\octopus-backup`)."""

import sys
from pathlib import Path

from octopus_events import desktop

if __name__ == "__main__":
    if Path(sys.executable).stem.lower() == "octopus":  # the console program is the CLI only
        from octopus_events.cli import run

        sys.exit(run(sys.argv[1:]))
    sys.exit(desktop.main())
