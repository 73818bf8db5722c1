// A minimal block-style YAML writer for the configs the bench generates (maps, lists, strings,
// numbers, booleans). Strings are always double-quoted (JSON escapes are valid YAML).

/** Serialise plain data as block YAML. */
export function toYaml(v, indent = 0) {
  const pad = ' '.repeat(indent);
  const scalar = (x) => (typeof x === 'string' ? JSON.stringify(x) : x === null || x === undefined ? 'null' : String(x));
  const isObj = (x) => x !== null && typeof x === 'object';
  if (Array.isArray(v)) {
    if (!v.length) return `${pad}[]\n`;
    return v.map((x) => {
      if (!isObj(x) || (Array.isArray(x) ? !x.length : !Object.keys(x).length)) return `${pad}- ${isObj(x) ? (Array.isArray(x) ? '[]' : '{}') : scalar(x)}\n`;
      const body = toYaml(x, indent + 2);
      return `${pad}- ${body.slice(indent + 2)}`;
    }).join('');
  }
  if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (!keys.length) return `${pad}{}\n`;
    return keys.map((k) => {
      const x = v[k];
      const key = /^[A-Za-z0-9_.-]+$/.test(k) ? k : JSON.stringify(k);
      if (isObj(x) && (Array.isArray(x) ? x.length : Object.keys(x).length)) return `${pad}${key}:\n${toYaml(x, indent + 2)}`;
      return `${pad}${key}: ${isObj(x) ? (Array.isArray(x) ? '[]' : '{}') : scalar(x)}\n`;
    }).join('');
  }
  return `${pad}${scalar(v)}\n`;
}
