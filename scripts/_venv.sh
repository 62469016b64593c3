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
    if ! .venv/bin/python -m pip install --quiet -e ".${extras}" > .venv/pip-install.log 2>&1; then
      cat .venv/pip-install.log
      echo "pip install failed (log: .venv/pip-install.log)" >&2
      return 1
    fi
    touch "$stamp"
  fi
}
