#!/usr/bin/env python3
"""Check a META.json against PGXN's distribution metadata spec, version 1.0
(https://pgxn.org/spec/): the required keys, every key's type and format, no
unknown keys (custom keys start with x_).  With --dist DIR, also check the
distribution itself: the files META.json names exist in DIR, and its version
and the provided extension's version are default_version in DIR/NAME.control.

Usage: pgxn_meta.py [--dist DIR] META.json
Prints every problem, one a line; exit status 1 when there is one."""

import json
import os
import re
import sys

SEMVER = re.compile(
    r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$')
RANGE_OP = re.compile(r'^(==|!=|<=|>=|<|>)?\s*(.*)$')
URI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$')
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')
CONTROL = re.compile(r'[\x00-\x1f\x7f]')

LICENSES = {
    'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd',
    'freebsd', 'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1',
    'lgpl_3_0', 'mit', 'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5',
    'postgresql', 'qpl_1_0', 'ssleay', 'sun', 'zlib', 'open_source',
    'restricted', 'unrestricted', 'unknown'}
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONS = {'requires', 'recommends', 'suggests', 'conflicts'}
TOP_REQUIRED = ['name', 'version', 'abstract', 'maintainer', 'license',
                'provides', 'meta-spec']
TOP_OPTIONAL = ['description', 'generated_by', 'tags', 'no_index', 'prereqs',
                'release_status', 'resources']
SPEC_URLS = {'https://pgxn.org/meta/spec.txt', 'http://pgxn.org/meta/spec.txt'}

problems = []


def bad(where, what):
    problems.append('%s: %s' % (where, what))


def custom(key):
    return re.match(r'^[xX]_.', key) is not None


def keys_known(where, obj, known):
    for k in obj:
        if k not in known and not custom(k):
            bad(where, 'unknown key "%s" (custom keys start with x_)' % k)


def is_object(where, v, nonempty=False):
    if not isinstance(v, dict):
        bad(where, 'must be an object')
        return False
    if nonempty and not v:
        bad(where, 'must not be empty')
        return False
    return True


def string(where, v, minlen=1):
    if not isinstance(v, str):
        bad(where, 'must be a string')
        return False
    if len(v) < minlen:
        bad(where, 'must be at least %d characters' % minlen)
        return False
    return True


def term(where, v):
    # at least two characters, no slash, backslash, white space or control characters
    if string(where, v, 2) and (re.search(r'[/\\\s]', v) or CONTROL.search(v)):
        bad(where, '"%s" is not a term (no /, \\, space or control characters)' % v)


def semver(where, v):
    if string(where, v) and not SEMVER.match(v):
        bad(where, '"%s" is not a semantic version (MAJOR.MINOR.PATCH)' % v)


def path(where, v):
    if string(where, v, 2):
        if v.startswith('/') or '\\' in v or '..' in v.split('/'):
            bad(where, '"%s" is not a relative Unix path inside the distribution' % v)


def uri(where, v):
    if string(where, v) and not URI.match(v):
        bad(where, '"%s" is not a URI' % v)


def version_range(where, v):
    if v == 0 and not isinstance(v, bool):
        return
    if not isinstance(v, str):
        bad(where, 'must be a version range string or 0')
        return
    if v.strip() == '0':
        return
    for part in v.split(','):
        m = RANGE_OP.match(part.strip())
        if not m or not SEMVER.match(m.group(2)):
            bad(where, '"%s" is not a version range' % v)
            return


def check_license(v):
    if isinstance(v, str):
        if v not in LICENSES:
            bad('license', '"%s" is not a known license key' % v)
    elif isinstance(v, list):
        if not v:
            bad('license', 'must not be empty')
        for i, l in enumerate(v):
            if l not in LICENSES:
                bad('license[%d]' % i, '"%s" is not a known license key' % l)
    elif isinstance(v, dict):
        if not v:
            bad('license', 'must not be empty')
        for name, link in v.items():
            uri('license.%s' % name, link)
    else:
        bad('license', 'must be a license key, a list of them or an object of name: URI')


def check_maintainer(v):
    if isinstance(v, list):
        if not v:
            bad('maintainer', 'must not be empty')
        for i, m in enumerate(v):
            string('maintainer[%d]' % i, m)
    else:
        string('maintainer', v)


def check_provides(v):
    if not is_object('provides', v, nonempty=True):
        return
    for ext, spec in v.items():
        where = 'provides.%s' % ext
        term(where + ' (name)', ext)
        if not is_object(where, spec):
            continue
        keys_known(where, spec, {'file', 'version', 'abstract', 'docfile', 'docpath'})
        for k in ('file', 'version'):
            if k not in spec:
                bad(where, 'missing required key "%s"' % k)
        if 'file' in spec:
            path(where + '.file', spec['file'])
        if 'docfile' in spec:
            path(where + '.docfile', spec['docfile'])
        if 'version' in spec:
            semver(where + '.version', spec['version'])
        if 'abstract' in spec:
            string(where + '.abstract', spec['abstract'])


def check_meta_spec(v):
    if not is_object('meta-spec', v):
        return
    keys_known('meta-spec', v, {'version', 'url'})
    if 'version' not in v:
        bad('meta-spec', 'missing required key "version"')
    elif string('meta-spec.version', v['version']) and not re.match(r'^1\.0\.\d+$', v['version']):
        bad('meta-spec.version', '"%s" is not 1.0.x' % v['version'])
    if 'url' in v and v['url'] not in SPEC_URLS:
        bad('meta-spec.url', 'must be https://pgxn.org/meta/spec.txt')


def check_prereqs(v):
    if not is_object('prereqs', v, nonempty=True):
        return
    keys_known('prereqs', v, PHASES)
    for phase, rels in v.items():
        if custom(phase):
            continue
        where = 'prereqs.%s' % phase
        if not is_object(where, rels, nonempty=True):
            continue
        keys_known(where, rels, RELATIONS)
        for rel, deps in rels.items():
            if custom(rel):
                continue
            if not is_object('%s.%s' % (where, rel), deps):
                continue
            for dep, rng in deps.items():
                term('%s.%s.%s (name)' % (where, rel, dep), dep)
                version_range('%s.%s.%s' % (where, rel, dep), rng)


def check_resources(v):
    if not is_object('resources', v, nonempty=True):
        return
    keys_known('resources', v, {'homepage', 'bugtracker', 'repository'})
    if 'homepage' in v:
        uri('resources.homepage', v['homepage'])
    if 'bugtracker' in v and is_object('resources.bugtracker', v['bugtracker']):
        b = v['bugtracker']
        keys_known('resources.bugtracker', b, {'web', 'mailto'})
        if 'web' not in b and 'mailto' not in b:
            bad('resources.bugtracker', 'needs "web" or "mailto"')
        if 'web' in b:
            uri('resources.bugtracker.web', b['web'])
        if 'mailto' in b and string('resources.bugtracker.mailto', b['mailto']) and not EMAIL.match(b['mailto']):
            bad('resources.bugtracker.mailto', '"%s" is not an email address' % b['mailto'])
    if 'repository' in v and is_object('resources.repository', v['repository']):
        r = v['repository']
        keys_known('resources.repository', r, {'url', 'web', 'type'})
        if 'web' not in r and not ('url' in r and 'type' in r):
            bad('resources.repository', 'needs "web", or "url" with "type"')
        for k in ('url', 'web'):
            if k in r:
                uri('resources.repository.' + k, r[k])
        if 'type' in r and string('resources.repository.type', r['type']) and r['type'] != r['type'].lower():
            bad('resources.repository.type', 'must be lower case')


def check_tags(v):
    if not isinstance(v, list) or not v:
        bad('tags', 'must be a non-empty list')
        return
    for i, t in enumerate(v):
        if string('tags[%d]' % i, t, 2):
            if len(t) > 255 or re.search(r'[/\\]', t) or CONTROL.search(t):
                bad('tags[%d]' % i, '"%s" is not a tag' % t)


def check_no_index(v):
    if not is_object('no_index', v, nonempty=True):
        return
    keys_known('no_index', v, {'file', 'directory'})
    for k in ('file', 'directory'):
        if k in v:
            if not isinstance(v[k], list) or not v[k]:
                bad('no_index.' + k, 'must be a non-empty list')
                continue
            for i, p in enumerate(v[k]):
                string('no_index.%s[%d]' % (k, i), p)


def check(meta):
    if not isinstance(meta, dict):
        bad('META.json', 'must be an object')
        return
    keys_known('META.json', meta, set(TOP_REQUIRED + TOP_OPTIONAL))
    for k in TOP_REQUIRED:
        if k not in meta:
            bad('META.json', 'missing required key "%s"' % k)
    if 'name' in meta:
        term('name', meta['name'])
    if 'version' in meta:
        semver('version', meta['version'])
    for k in ('abstract', 'description', 'generated_by'):
        if k in meta:
            string(k, meta[k])
    checks = {'maintainer': check_maintainer, 'license': check_license,
              'provides': check_provides, 'meta-spec': check_meta_spec,
              'prereqs': check_prereqs, 'resources': check_resources,
              'tags': check_tags, 'no_index': check_no_index}
    for k, fn in checks.items():
        if k in meta:
            fn(meta[k])
    if 'release_status' in meta and meta['release_status'] not in ('stable', 'testing', 'unstable'):
        bad('release_status', 'must be stable, testing or unstable')


def check_dist(meta, d):
    name = meta.get('name')
    control = os.path.join(d, '%s.control' % name)
    try:
        with open(control) as f:
            m = re.search(r"^default_version\s*=\s*'([^']*)'", f.read(), re.M)
    except OSError:
        bad('dist', '%s.control is missing' % name)
        return
    if not m:
        bad('dist', '%s.control has no default_version' % name)
        return
    if meta.get('version') != m.group(1):
        bad('version', '"%s" differs from default_version \'%s\' in %s.control'
            % (meta.get('version'), m.group(1), name))
    for ext, spec in (meta.get('provides') or {}).items():
        if not isinstance(spec, dict):
            continue
        if ext == name and spec.get('version') != m.group(1):
            bad('provides.%s.version' % ext, '"%s" differs from default_version \'%s\''
                % (spec.get('version'), m.group(1)))
        for k in ('file', 'docfile'):
            if isinstance(spec.get(k), str) and not os.path.isfile(os.path.join(d, spec[k])):
                bad('provides.%s.%s' % (ext, k), '%s is not in the distribution' % spec[k])


def main(argv):
    dist = None
    if len(argv) >= 2 and argv[0] == '--dist':
        dist = argv[1]
        argv = argv[2:]
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    try:
        with open(argv[0]) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print('%s: %s' % (argv[0], e))
        return 1
    check(meta)
    if dist is not None and isinstance(meta, dict):
        check_dist(meta, dist)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
