// Unknown fields: kubernetes-models' validators check types, required fields and formats, but
// accept any extra field, as the OpenAPI schemas they come from do. The API server drops (or,
// with strict validation, rejects) such a field, so a misspelt or misindented key in a template
// (`readinesProbe`, an `env` one level too deep) would pass them and silently do nothing.
// The same packages ship TypeScript declarations with every field of every type; this reads
// them (a small parser for the generated subset: interfaces, object literal types, Array<T>,
// index signatures, unions, imports) and reports every field of an object that its type lacks.
'use strict';

const fs = require('fs');
const path = require('path');

const files = new Map(); // .d.ts path -> {imports, declarations}

function tokenize(text) {
  const tokens = [];
  const re = /\s+|\/\*[\s\S]*?\*\/|\/\/[^\n]*|("(?:[^"\\]|\\.)*")|([A-Za-z_$][\w$]*)|(\d+)|(.)/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (m[1] !== undefined) tokens.push({ t: 'str', v: JSON.parse(m[1]) });
    else if (m[2] !== undefined) tokens.push({ t: 'id', v: m[2] });
    else if (m[3] !== undefined) tokens.push({ t: 'num', v: m[3] });
    else if (m[4] !== undefined) tokens.push({ t: 'p', v: m[4] });
  }
  return tokens;
}

// Parses a type at tokens[pos]; returns [type, next position].
function parseType(tokens, pos, file) {
  const parts = [];
  for (;;) {
    let type;
    [type, pos] = parsePrimary(tokens, pos, file);
    while (tokens[pos]?.v === '[' && tokens[pos + 1]?.v === ']') {
      type = { kind: 'array', of: type };
      pos += 2;
    }
    while (tokens[pos]?.v === '[' && tokens[pos + 1]?.t === 'str') pos += 3; // I["kind"]
    parts.push(type);
    if (tokens[pos]?.v !== '|') break;
    pos++;
  }
  return [parts.length === 1 ? parts[0] : { kind: 'union', of: parts }, pos];
}

function expect(tokens, pos, value) {
  if (tokens[pos]?.v !== value) {
    throw new Error(`strict-fields: expected '${value}' at token ${pos}, got ` +
                    `'${tokens[pos]?.v}'`);
  }
  return pos + 1;
}

function parsePrimary(tokens, pos, file) {
  const token = tokens[pos];
  if (token.v === '|') return parsePrimary(tokens, pos + 1, file); // a leading |
  if (token.v === '(') {
    const [type, next] = parseType(tokens, pos + 1, file);
    return [type, expect(tokens, next, ')')];
  }
  if (token.v === '{') return parseObject(tokens, pos, file);
  if (token.t === 'id' && token.v === 'Array' && tokens[pos + 1]?.v === '<') {
    const [of, next] = parseType(tokens, pos + 2, file);
    return [{ kind: 'array', of }, expect(tokens, next, '>')];
  }
  if (token.t === 'id' && /^(string|number|boolean|any|unknown|null|undefined|true|false|object)$/.test(token.v)) {
    return [{ kind: 'any' }, pos + 1];
  }
  if (token.t === 'id' && token.v === 'import') { // import("x").Name: not a field's type here
    let p = pos;
    while (tokens[p] && tokens[p].v !== ';' && tokens[p].v !== '>') p++;
    return [{ kind: 'any' }, p];
  }
  if (token.t === 'id') return [{ kind: 'ref', file, name: token.v }, pos + 1];
  if (token.t === 'str' || token.t === 'num') return [{ kind: 'any' }, pos + 1];
  throw new Error(`strict-fields: unexpected '${token.v}' in a type in ${file}`);
}

function parseObject(tokens, pos, file) {
  pos = expect(tokens, pos, '{');
  const props = {};
  let index = null;
  while (tokens[pos].v !== '}') {
    if (tokens[pos].v === '[') { // [key: string]: T;
      let p = pos;
      while (tokens[p].v !== ']') p++;
      p = expect(tokens, p + 1, ':');
      [index, pos] = parseType(tokens, p, file);
    } else {
      const name = tokens[pos].v;
      pos++;
      if (tokens[pos].v === '?') pos++;
      pos = expect(tokens, pos, ':');
      [props[name], pos] = parseType(tokens, pos, file);
    }
    if (tokens[pos].v === ';' || tokens[pos].v === ',') pos++;
  }
  return [{ kind: 'object', props, index }, pos + 1];
}

function load(file) {
  if (files.has(file)) return files.get(file);
  const tokens = tokenize(fs.readFileSync(file, 'utf8'));
  const entry = { imports: {}, declarations: {}, aliases: {} };
  files.set(file, entry);
  for (let pos = 0; pos < tokens.length; pos++) {
    const v = tokens[pos].v;
    if (v === 'import' && tokens[pos + 1]?.v === '{') {
      let p = pos + 2;
      const names = [];
      while (tokens[p].v !== '}') {
        if (tokens[p].t === 'id' && tokens[p + 1]?.v === 'as') {
          names.push([tokens[p].v, tokens[p + 2].v]);
          p += 3;
        } else {
          if (tokens[p].t === 'id') names.push([tokens[p].v, tokens[p].v]);
          p++;
        }
      }
      const from = tokens[p + 2].v; // } from "x"
      for (const [exported, local] of names) entry.imports[local] = { from, exported };
      pos = p + 2;
    } else if (v === 'export' && tokens[pos + 1]?.v === '{') { // export { IA as IB, ... }
      let p = pos + 2;
      while (tokens[p].v !== '}') {
        if (tokens[p + 1]?.v === 'as') {
          entry.aliases[tokens[p + 2].v] = tokens[p].v;
          p += 3;
        } else {
          p++;
        }
      }
      pos = p;
    } else if (v === 'interface' && tokens[pos + 1]?.t === 'id') {
      const name = tokens[pos + 1].v;
      let p = pos + 2;
      while (tokens[p].v !== '{') p++;
      const [type, next] = parseObject(tokens, p, file);
      entry.declarations[name] = type;
      pos = next - 1;
    } else if (v === 'type' && tokens[pos - 1]?.v === 'export' && tokens[pos + 2]?.v === '=') {
      const [type, next] = parseType(tokens, pos + 3, file);
      entry.declarations[tokens[pos + 1].v] = type;
      pos = next - 1;
    }
  }
  return entry;
}

function resolveModule(from, file) {
  if (from.startsWith('.')) return path.resolve(path.dirname(file), `${from}.d.ts`);
  return require.resolve(from).replace(/\.js$/, '.d.ts');
}

function resolve(ref) {
  const entry = load(ref.file);
  const name = entry.aliases[ref.name] || ref.name;
  if (entry.declarations[name]) return entry.declarations[name];
  const imported = entry.imports[ref.name];
  if (imported) {
    return resolve({ file: resolveModule(imported.from, ref.file), name: imported.exported });
  }
  return { kind: 'any' }; // TypeMeta, Model and such: nothing to check against
}

function check(value, type, where, problems) {
  while (type.kind === 'ref') type = resolve(type);
  if (type.kind === 'union') {
    const object = type.of.map((t) => { while (t.kind === 'ref') t = resolve(t); return t; })
      .find((t) => t.kind === 'object' || t.kind === 'array');
    if (object) check(value, object, where, problems);
    return;
  }
  if (type.kind === 'array' && Array.isArray(value)) {
    value.forEach((item, i) => check(item, type.of, `${where}[${i}]`, problems));
  } else if (type.kind === 'object' && value && typeof value === 'object' &&
             !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (Object.prototype.hasOwnProperty.call(type.props, key)) {
        check(item, type.props[key], `${where}.${key}`, problems);
      } else if (type.index) {
        check(item, type.index, `${where}.${key}`, problems);
      } else {
        problems.push(`unknown field ${where}.${key}`);
      }
    }
  }
}

// The unknown fields of `object`, whose model is the module `module` exporting class `kind`.
function unknownFields(object, module, kind) {
  const file = require.resolve(module).replace(/\.js$/, '.d.ts');
  const problems = [];
  check(object, { kind: 'ref', file, name: `I${kind}` }, kind, problems);
  return problems;
}

module.exports = { unknownFields };
