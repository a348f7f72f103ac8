import { levelExpression, loudness, sceneSize, wrapText } from '../../src/adapters/localRender/avatarScene';

describe('the local avatar scene', () => {
  test('the video is the photo fitted to at most 720p: landscape in 1280×720, portrait in 720×1280, never upscaled, even sides', () => {
    expect(sceneSize(4032, 3024)).toEqual({ width: 960, height: 720 });
    expect(sceneSize(3024, 4032)).toEqual({ width: 720, height: 960 });
    expect(sceneSize(1920, 1080)).toEqual({ width: 1280, height: 720 });
    expect(sceneSize(641, 481)).toEqual({ width: 640, height: 480 });
  });

  test('loudness follows the voice: silent segments are 0, the loud ones near 1, and it falls back slower than it rises', () => {
    const rate = 8000;
    const pcm = Buffer.alloc(rate * 2 * 2); // 2 s mono 16-bit: the second half is a loud square wave
    for (let i = rate; i < rate * 2; i++) pcm.writeInt16LE(i % 20 < 10 ? 20000 : -20000, i * 2);
    const levels = loudness(pcm, rate, 0.1);
    expect(levels).toHaveLength(20);
    expect(levels.slice(0, 10).every((l) => l === 0)).toBe(true);
    expect(levels.slice(10).every((l) => l >= 0.99)).toBe(true);
    expect(loudness(Buffer.alloc(rate * 2), rate, 0.1).every((l) => l === 0)).toBe(true);
    // Loud first, then silent: the level decays over a few segments instead of dropping at once.
    const fading = Buffer.alloc(rate * 2 * 2);
    for (let i = 0; i < rate; i++) fading.writeInt16LE(i % 20 < 10 ? 20000 : -20000, i * 2);
    const after = loudness(fading, rate, 0.1);
    expect(after[9]).toBeGreaterThanOrEqual(0.99);
    expect(after[10]).toBeGreaterThan(0.3);
    expect(after[10]).toBeLessThan(after[9]!);
    expect(after[19]).toBeLessThanOrEqual(0.01);
  });

  test('the level expression holds one term per sounding segment, nested as a balanced sum', () => {
    expect(levelExpression([0, 0], 0.1, 15)).toBe('0');
    const expr = levelExpression([0.5, 0, 1], 0.2, 10);
    expect(expr).toBe('((0.5*between(on,0,1))+(1*between(on,4,5)))');
    const many = levelExpression(Array.from({ length: 400 }, () => 0.5), 0.1, 15);
    const depth = Math.max(...[...many].reduce<number[]>((acc, ch) => [...acc, (acc.at(-1) ?? 0) + (ch === '(' ? 1 : ch === ')' ? -1 : 0)], []));
    expect(depth).toBeLessThanOrEqual(12);
  });

  test('a long bio is wrapped at spaces into two lines ending with an ellipsis; Korean counts as wide', () => {
    const lines = wrapText('Teaches physics to first-year students and loves long walks in the mountains near Seoul, every weekend.', 20, 2);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.endsWith('…')).toBe(true);
    expect(lines[0]).toBe('Teaches physics to first-year');
    expect(wrapText('서울대학교 물리학과 교수입니다', 6, 3)).toEqual(['서울대학교', '물리학과', '교수입니다']);
    expect(wrapText('  ', 10, 2)).toEqual([]);
  });
});
