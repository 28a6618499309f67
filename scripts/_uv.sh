# Sourced by the other scripts: find uv, installing it into the user's Python when missing.
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
  UV=(python3 -m uv)
fi
