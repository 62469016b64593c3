# Sourced by scripts/demo and scripts/test: make .venv if missing and install geoaug into it.
# Usage: ensure_venv EXTRAS   (EXTRAS like "" or "[test]")
ensure_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  local stamp=".venv/.geoaug-installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    if [ "$extras" = "[test]" ] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
      # the CPU wheel, pinned, before anything else can ask pip for a (CUDA) torch
      .venv/bin/python -m pip install --quiet "torch==2.13.0" > .venv/pip-torch.log 2>&1 \
        || { cat .venv/pip-torch.log; return 1; }
    fi
    if ! .venv/bin/python -m pip install --quiet -e ".${extras}" > .venv/pip-install.log 2>&1; then
      cat .venv/pip-install.log
      echo "pip install failed (log: .venv/pip-install.log)" >&2
      return 1
    fi
    touch "$stamp"
  fi
  # geoaug's bytecode, as an installed (non-editable) package has it: where PYTHONDONTWRITEBYTECODE is set
  # Python never writes it for the editable install (docs/processes.md, "Starting a process").
  # compileall rewrites only what changed.
  .venv/bin/python -m compileall -q geoaug > /dev/null
}
