import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './standIn';

describe('.env.example', () => {
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  const config = fs.readFileSync(path.join(ROOT, 'server/src/config.ts'), 'utf8');
  const schema = config.slice(config.indexOf('const EnvSchema'), config.indexOf('type Env ='));
  const variables = [...schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);

  test('names every variable the config schema reads, each as a commented line', () => {
    expect(variables.length).toBeGreaterThan(30);
    const missing = variables.filter((name) => !new RegExp(`^# ${name}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  test('shows the schema default of each variable that has a plain one', () => {
    const wrong: string[] = [];
    for (const m of schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):.*\.default\(('([^']*)'|-?[\d.]+)\)/gm)) {
      const [, name, raw, quoted] = m;
      const value = quoted ?? raw!;
      if (!new RegExp(`^# ${name}=${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').test(example)) wrong.push(`${name} (default ${value})`);
    }
    expect(wrong).toEqual([]);
  });

  test('sets nothing: every assignment is commented out, so copying it changes no behaviour', () => {
    expect(example.split('\n').filter((line) => /^[A-Z_]+=/.test(line))).toEqual([]);
  });
});
