import { createHmac } from 'node:crypto';
import { PermanentError } from '../../src/domain/errors';
import { addressProblem, resolveCallbackUrl, signWebhook, SignedWebhookSender } from '../../src/adapters/webhookSender';

const cloud = { allowLoopbackAndHttp: false };
const local = { allowLoopbackAndHttp: true };

describe('callback URL addresses', () => {
  test.each([
    '127.0.0.1', '127.9.9.9', '::1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1', '224.0.0.1',
  ])('%s is refused in the cloud', (address) => {
    expect(addressProblem(address, cloud)).not.toBeNull();
  });

  test.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('%s (public) is allowed', (address) => {
    expect(addressProblem(address, cloud)).toBeNull();
  });

  test('locally loopback is allowed for test receivers, private ranges still are not', () => {
    expect(addressProblem('127.0.0.1', local)).toBeNull();
    expect(addressProblem('::1', local)).toBeNull();
    expect(addressProblem('10.0.0.1', local)).not.toBeNull();
    expect(addressProblem('169.254.169.254', local)).not.toBeNull();
  });

  test('a name with one public and one private address is refused', async () => {
    const resolve = async () => [{ address: '93.184.215.14', family: 4 }, { address: '10.0.0.7', family: 4 }];
    await expect(resolveCallbackUrl('https://mixed.example.com/', cloud, resolve)).rejects.toThrow(/10\.0\.0\.7/);
  });

  test('credentials in the URL and non-http schemes are refused', async () => {
    const resolve = async () => [{ address: '93.184.215.14', family: 4 }];
    await expect(resolveCallbackUrl('https://u:p@hooks.example.com/', cloud, resolve)).rejects.toBeInstanceOf(PermanentError);
    await expect(resolveCallbackUrl('file:///etc/passwd', local, resolve)).rejects.toBeInstanceOf(PermanentError);
    await expect(resolveCallbackUrl('gopher://hooks.example.com/', local, resolve)).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('Standard Webhooks signature', () => {
  test('is v1, then base64 HMAC-SHA256 of "id.timestamp.body" with the base64-decoded secret', () => {
    const key = Buffer.from('a-32-byte-key-for-the-test-only!');
    const secret = `whsec_${key.toString('base64')}`;
    const expected = createHmac('sha256', key).update('msg_1.1700000000.{"a":1}').digest('base64');
    expect(signWebhook(secret, 'msg_1', 1700000000, '{"a":1}')).toBe(`v1,${expected}`);
    expect(signWebhook(secret, 'msg_1', 1700000001, '{"a":1}')).not.toBe(`v1,${expected}`);
  });

  test('the spec example verifies (standard-webhooks test vector)', () => {
    // From the Standard Webhooks reference implementation's tests.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe('DNS rebinding', () => {
  test('a name that was public at upload and points inside at delivery is refused, and nothing is sent', async () => {
    let calls = 0;
    const resolveHost = async () => (calls++ === 0 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]);
    const sender = new SignedWebhookSender({ secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`, policy: cloud, resolveHost });
    await expect(sender.check('https://rebind.example.com/hook')).resolves.toBeUndefined();
    await expect(sender.send({ id: 'msg_1', url: 'https://rebind.example.com/hook', body: '{}' })).rejects.toMatchObject({
      code: 'callback_url_refused',
    });
    expect(calls).toBe(2);
  });
});
