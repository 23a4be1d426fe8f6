#!/usr/bin/env bash
# The agreement study of the Gaussian-equivalence ODEs against SGD (README: Results > Theory vs simulation).
# Builds the command line (./theory does, when a source changed), then runs scripts/agreement.fsx with the arguments
# given, e.g.  scripts/agreement.sh --sizes 400,1000,4000 --seeds 3 --time 1000 --out runs/agreement
# The full study (D = 400, 1000, 4000; clone and NLGP; 3 seeds; T = 1000) takes about 20 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/theory" --help >/dev/null
cd "$here"
exec dotnet fsi --quiet --exec scripts/agreement.fsx "$@"
