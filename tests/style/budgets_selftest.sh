#!/usr/bin/env bash
# budgets_selftest.sh -- budgets.sh must pass a clean tree and name every
# breach of a tree built to break each of its rules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lib/proto" "$t/lib/engine" "$t/lib/api" "$t/lib/admin" "$t/include/clusterc"

printf '#include "clusterc/clusterc.h"\n#include "addr.h"\nint f(void)\n{\n    return 0;\n}\n' \
  > "$t/lib/proto/addr.c"
printf '/* addr.h */\n' > "$t/lib/proto/addr.h"
printf '#include "proto/addr.h"\n' > "$t/lib/engine/engine.c"
printf '#include "engine/engine.h"\n#include "proto/addr.h"\n' > "$t/lib/api/client.c"
printf '/* client_int.h */\n' > "$t/lib/api/client_int.h"
printf '#include "api/client_int.h"\n#include "proto/addr.h"\n' > "$t/lib/admin/view.c"
printf '#include "clusterc.h"\n' > "$t/include/clusterc/async.h"
printf '/* clusterc.h */\n' > "$t/include/clusterc/clusterc.h"
BUDGETS_ROOT=$t "$here/budgets.sh" >/dev/null || { echo "FAIL: a clean tree is refused"; exit 1; }

fail=0
expect() {   # expect <pattern>: the last run printed it
  grep -q -- "$1" "$t/out" || { echo "FAIL: no breach matching: $1"; fail=1; }
}
printf '#include "api/client_int.h"\n' > "$t/lib/engine/up.c"         # points up
printf '#include "engine/engine.h"\n' > "$t/lib/admin/sneak.c"        # admin skips the api
printf '#include "engine/x.h"\n' > "$t/lib/engine/self.c"             # names its own room
printf '#include "nowhere.h"\n' > "$t/lib/proto/bare.c"               # bare, not in room
printf '#include "proto/addr.h"\n' > "$t/lib/proto/uses.c"            # proto includes proto/
printf 'int root;\n' > "$t/lib/root.c"                                # outside any room
printf '#include "../lib/proto/addr.h"\n' > "$t/include/clusterc/admin.h"
{ printf 'static int longfn(int a,\n                  int b)\n{\n'
  for i in $(seq 1 90); do printf '    a += %d;\n' "$i"; done
  printf '    return a + b;\n}\n'; } > "$t/lib/engine/long.c"
seq 1 801 | sed 's/.*/int v&;/' > "$t/lib/proto/big.c"
if BUDGETS_ROOT=$t "$here/budgets.sh" > "$t/out"; then
  echo "FAIL: a broken tree passes"; fail=1
fi
expect 'lib/engine/up.c:1: room engine may not include "api/client_int.h"'
expect 'lib/admin/sneak.c:1: room admin may not include "engine/engine.h"'
expect 'lib/engine/self.c:1: "engine/x.h" names its own room'
expect 'lib/proto/bare.c:1: "nowhere.h" is not in room proto'
expect 'lib/proto/uses.c:1: "proto/addr.h" names its own room'
expect "lib/root.c: at lib/'s root"
expect 'include/clusterc/admin.h:1: public header includes private'
expect 'lib/engine/long.c:1: function longfn has 95 lines (budget 80)'
expect 'lib/proto/big.c: 801 lines (budget 800)'
expect 'budgets: 9 breaches'
[ "$fail" = 0 ] && echo "budgets selftest: ok"
exit "$fail"
