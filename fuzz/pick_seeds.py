#!/usr/bin/env python3
"""Pick a few seeds out of a large fuzzing corpus (see docs/FUZZING.md).

    fuzz/pick_seeds.py FUZZER K SEED_DIR CORPUS_DIR...

Finds the features (libFuzzer's coverage units) each file of SEED_DIR
and of the CORPUS_DIRs covers, with one `FUZZER -merge=1` run per file
(libFuzzer's merge control file lists them), and copies into SEED_DIR the
K files that add the most features to what SEED_DIR already covers
(greedy set cover), named found-<sha1 prefix>.  Existing seeds are kept.
One run per file: about 0.1 s each.  Check the result with
`FUZZER -runs=0 SEED_DIR` (the "INITED cov: ... ft: ..." line).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def features_of(fuzzer, path, tmp):
    """The features one input covers: a merge run on it alone."""
    one = os.path.join(tmp, "one")
    out = os.path.join(tmp, "out")
    control = os.path.join(tmp, "control")
    for d in (one, out):
        shutil.rmtree(d, ignore_errors=True)
        os.mkdir(d)
    shutil.copyfile(path, os.path.join(one, "x"))
    if os.path.exists(control):  # an existing control file resumes that merge
        os.unlink(control)
    subprocess.run([fuzzer, "-merge=1", "-merge_control_file=" + control, out, one],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ft = set()
    with open(control) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == "FT":
                ft |= set(map(int, parts[2:]))
    return ft


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    fuzzer, k, seed_dir, corpora = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    files = lambda d: sorted(os.path.join(d, n) for n in os.listdir(d))
    covered, candidates = set(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files(seed_dir):
            covered |= features_of(fuzzer, path, tmp)
        for d in corpora:
            for path in files(d):
                candidates[path] = features_of(fuzzer, path, tmp)
    before, picked = len(covered), 0
    for _ in range(k):
        best, gain = None, 0
        for path, ft in candidates.items():
            g = len(ft - covered)
            if g > gain or (g == gain and g > 0 and os.path.getsize(path) < os.path.getsize(best)):
                best, gain = path, g
        if best is None:
            break
        covered |= candidates.pop(best)
        with open(best, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()[:12]
        shutil.copyfile(best, os.path.join(seed_dir, "found-" + digest))
        picked += 1
    print(f"{seed_dir}: {picked} files added, features {before} -> {len(covered)}")


if __name__ == "__main__":
    main()
