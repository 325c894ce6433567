"""Differential check of two retainctl binaries: mutated example manifests (random YAML
punctuation inserted, bytes deleted or copied) must give the same `validate` output.
Usage: python3 benches/yaml_diff.py OLD_BIN NEW_BIN CASES [SEED]; differing inputs are
kept in /tmp/yaml_diff/diffN.yaml."""
import glob, os, random, shutil, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
old, new, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
seeds = [p for p in glob.glob(ROOT + '/examples/**/*.yaml', recursive=True) + glob.glob(ROOT + '/tests/corpus/manifests/*.yaml')]
texts = [open(p, 'rb').read() for p in seeds]
rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
alphabet = [b' ', b'\n', b':', b'-', b'{', b'}', b'[', b']', b'"', b"'", b'\t', b'#', b'&a', b'*a', b'!', b'|', b'>', b'? ', b',', b'%', b'@', b'`', b'~', b'null', b'\\', b'\xc3\xa9', b'\r']
d = '/tmp/yaml_diff/case'
diffs = 0
for i in range(n):
    t = bytearray(rnd.choice(texts))
    for _ in range(rnd.randint(1, 4)):
        op = rnd.random()
        pos = rnd.randrange(len(t) + 1)
        if op < 0.4:
            t[pos:pos] = rnd.choice(alphabet)
        elif op < 0.7 and len(t) > 1:
            del t[pos:pos + rnd.randint(1, 5)]
        else:
            a = rnd.randrange(len(t) + 1); b = min(len(t), a + rnd.randint(1, 40))
            t[pos:pos] = t[a:b]
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    open(d + '/m.yaml', 'wb').write(bytes(t))
    outs = []
    for b in (old, new):
        r = subprocess.run([b, 'validate', d + '/m.yaml'], capture_output=True, timeout=20)
        outs.append((r.returncode, r.stdout, r.stderr))
    if outs[0] != outs[1]:
        diffs += 1
        shutil.copy(d + '/m.yaml', f'/tmp/yaml_diff/diff{diffs}.yaml')
        if diffs <= 5:
            print('DIFF', i); print(outs[0][1].decode(errors='replace')[-600:]); print('---'); print(outs[1][1].decode(errors='replace')[-600:])
print('cases', n, 'diffs', diffs)
