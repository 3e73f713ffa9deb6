# Shared by scripts/test and scripts/lint: a virtualenv with Packyard and its test tools, and the
# system packages they need, installed with apt when missing (as on a fresh Debian or Ubuntu).

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    echo "Installing with apt: $*" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_venv [PIP INSTALL TARGET]: default is the editable checkout with its test tools.
ensure_venv() {
    VENV=${PACKYARD_VENV:-.venv}
    local target=${1:---editable .[test]}
    if [ ! -x "$VENV/bin/python" ]; then
        if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            apt_install python3-venv
            python3 -m venv "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2086 # the target is one or two words on purpose
    "$VENV/bin/python" -m pip install --quiet $target
}
