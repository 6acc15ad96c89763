#!/usr/bin/env node
// Lists the addon's C++ sources for binding.gyp (CMakeLists.txt globs the same folders).
'use strict';
const { readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
function walk(dir) {
  return readdirSync(path.join(root, dir)).sort().flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) return walk(rel);
    return name.endsWith('.cc') ? [rel] : [];
  });
}
process.stdout.write(['native/addon.cc', ...walk('native/core'), ...walk('native/napi')].join(' ') + '\n');
