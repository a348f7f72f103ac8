import { fitToWidth, displayWidth, StatusLine } from '../../../cli/terminal';
import { serverUrl } from '../../../cli/args';
import { languageOf, messagesFor } from '../../../cli/messages';

describe('the status line of the command line', () => {
  test('a line wider than the terminal is cut at a word boundary, never inside a word', () => {
    const line = '[####------] 42%  1:05  local-render creating · rendering the video frames';
    for (let width = 14; width < line.length; width++) {
      const fitted = fitToWidth(line, width);
      expect(displayWidth(fitted)).toBeLessThanOrEqual(width);
      const kept = fitted.replace(/ …$/, '');
      expect(line.startsWith(kept)).toBe(true);
      // What follows the kept part in the full line starts with a space: no word was split.
      expect(line.slice(kept.length)).toMatch(/^\s/);
    }
    expect(fitToWidth(line, 200)).toBe(line);
    expect(fitToWidth('42%  1:05  local-render · rendering', 28)).toBe('42%  1:05  local-render …');
  });

  test('Korean takes two columns a character, so a Korean line is cut by display width', () => {
    expect(displayWidth('영상 렌더링')).toBe(11);
    const fitted = fitToWidth('42%  1:05  영상 렌더링 중입니다', 17);
    expect(fitted).toBe('42%  1:05  영상 …');
    expect(displayWidth(fitted)).toBeLessThanOrEqual(17);
    expect(fitToWidth('42%  1:05  영상 렌더링 중입니다', 16)).toBe('42%  1:05 …');
  });

  test('it redraws every second with a fresh render, so the elapsed time moves with no event; never while a prompt is open', () => {
    jest.useFakeTimers();
    try {
      const writes: string[] = [];
      const line = new StatusLine({ write: (t) => (writes.push(t), true), isTTY: true, columns: 80 });
      let seconds = 0;
      line.set(() => `elapsed ${seconds}s`);
      seconds = 1;
      jest.advanceTimersByTime(1000);
      seconds = 2;
      jest.advanceTimersByTime(1000);
      expect(writes.filter((w) => w.includes('elapsed'))).toEqual(['\r\x1b[2Kelapsed 0s', '\r\x1b[2Kelapsed 1s', '\r\x1b[2Kelapsed 2s']);
      line.pause();
      jest.advanceTimersByTime(3000);
      expect(writes.filter((w) => w.includes('elapsed'))).toHaveLength(3);
      seconds = 5;
      line.resume(); // the prompt was answered: drawn at once, not at the next tick
      expect(writes[writes.length - 1]).toBe('\r\x1b[2Kelapsed 5s');
      line.stop();
      jest.advanceTimersByTime(3000);
      expect(writes[writes.length - 1]).toBe('\r\x1b[2K');
    } finally {
      jest.useRealTimers();
    }
  });

  test('without a terminal nothing is drawn (logs get the step lines only)', () => {
    const writes: string[] = [];
    const line = new StatusLine({ write: (t) => (writes.push(t), true), isTTY: false });
    line.set(() => 'x');
    line.stop();
    expect(writes).toEqual([]);
  });
});

describe('the server address and the language of the command line', () => {
  const m = messagesFor('en');
  test('--server wins, then AVATAR_API_URL, then localhost:8080; host:port gets http://', () => {
    expect(serverUrl('https://api.example.com/', { AVATAR_API_URL: 'other:1' }, m)).toBe('https://api.example.com');
    expect(serverUrl(undefined, { AVATAR_API_URL: '127.0.0.1:9000' }, m)).toBe('http://127.0.0.1:9000');
    expect(serverUrl(undefined, {}, m)).toBe('http://localhost:8080');
    expect(serverUrl('localhost:3000', {}, m)).toBe('http://localhost:3000');
    expect(() => serverUrl('ftp://x', {}, m)).toThrow(/not an http:\/\/ or https:\/\/ URL/);
  });

  test('ko… locales speak Korean, LC_ALL before LC_MESSAGES before LANG, English otherwise', () => {
    expect(languageOf({ LANG: 'ko_KR.UTF-8' })).toBe('ko');
    expect(languageOf({ LANG: 'ko' })).toBe('ko');
    expect(languageOf({ LANG: 'ko_KR.UTF-8', LC_ALL: 'C' })).toBe('en');
    expect(languageOf({ LANG: 'en_US.UTF-8', LC_MESSAGES: 'ko_KR.UTF-8' })).toBe('ko');
    expect(languageOf({ LANG: 'kok_IN' })).toBe('en'); // Konkani, not Korean
    expect(languageOf({})).toBe('en');
  });
});
