#!/usr/bin/env bash
# The main job end to end on built-in defaults: a sample OS tree with a kernel is committed,
# copied into a fresh repository with every object verified, checked and checked out.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet run --project src/OstreeSharp.Cli -c Release -- demo "$@"
