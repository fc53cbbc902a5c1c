import {
  checkBandwidth,
  checkBindAddress,
  checkBucketName,
  checkDuration,
  checkEnvName,
  checkFilePath,
  checkIpRule,
  checkKeyPrefix,
  checkMemberAddress,
  checkResourceName,
  checkRoutePath,
  checkServerName,
  checkSingleLine,
  type ValueCheck,
} from '../../../src/domain/manifests/value-types.js';

/** Sample values for each typed check, shared by the value tests and the schema pattern tests. */
/** Characters that would let a value escape its place in nginx text. */
export const INJECTION_SAMPLES = [
  'a;b',
  'a b',
  'a{b',
  'a}b',
  'a"b',
  "a'b",
  'a#b',
  'a$b',
  'a\\b',
  'a\nb',
  'a\rb',
  'a\tb',
  'a\u0000b',
  'a\u007fb',
  'a\u00a0b',
  'a\u2028b',
];

export interface Table {
  check: ValueCheck;
  valid: string[];
  invalid: string[];
  /** false for free text that may hold nginx syntax characters (never rendered outside a comment). */
  rejectsInjection?: boolean;
}

export const TABLES: Record<string, Table> = {
  resourceName: {
    check: checkResourceName,
    valid: ['a', 'nanio-main', 'Pool_1', 'a.b-c', '0', 'x'.repeat(63)],
    invalid: ['', '-a', '.a', '_a', 'a..b', 'a/b', 'x'.repeat(64), 'é', '../etc'],
  },
  serverName: {
    check: checkServerName,
    valid: ['_', 'example.com', 's3.example.com', '*.example.com', 'example.*', 'localhost', 'a-b.c', '1.2.3.4', 'xn--bcher-kva.example'],
    invalid: [
      '',
      'Example.com',
      '*',
      '*.',
      'a.*.b',
      '*.a.*',
      'a..b',
      '-a.com',
      'a-.com',
      '.a.com',
      'a.com.',
      '~^re$',
      `${'a'.repeat(64)}.com`,
      'a_b.com',
    ],
  },
  memberAddress: {
    check: checkMemberAddress,
    valid: [
      '10.0.0.1:9000',
      '[fd00::1]:9000',
      '[::1]:80',
      'nanio-1.internal:9000',
      'localhost:1',
      'host_1:65535',
      'Files.Internal:80',
      '[::ffff:10.0.0.1]:80',
    ],
    invalid: [
      '10.0.0.1',
      'fd00::1',
      '[fd00::1]',
      '10.0.0.1:0',
      '10.0.0.1:65536',
      '10.0.0.1:99999',
      ':80',
      'a:b',
      '[zz::1]:80',
      '256.0.0.1:80',
      '1.2.3:80',
      'unix:/run/x.sock',
      'http://a:80',
      '[fd00::1%eth0]:80',
      'a:80:90',
    ],
  },
  bindAddress: {
    check: checkBindAddress,
    valid: ['0.0.0.0', '10.0.0.5', '::', '::1', 'fd00::5', '::ffff:10.0.0.1'],
    invalid: ['', '10.0.0.5:80', '[::1]', '1.2.3', '256.1.1.1', 'localhost', '*', 'fe80::1%eth0'],
  },
  ipRule: {
    check: checkIpRule,
    valid: ['10.0.0.0/8', '192.0.2.17', '0.0.0.0/0', '192.0.2.17/32', 'fd00::/8', '::1', '::/0', '2001:db8::/128', '10.1.2.3/8'],
    invalid: [
      '',
      'all',
      '10.0.0.0/33',
      '10.0.0.0/',
      '10.0.0.0/08',
      '300.1.1.1',
      '10.0.0/8',
      'fd00::/129',
      '1.2.3.4/-1',
      'unix:',
      'fd00::1%1',
      '10.0.0.0/8/8',
    ],
  },
  duration: {
    check: checkDuration,
    valid: ['10s', '1m30s', '500ms', '30', '1d', '2h', '1h2m3s4ms', '0', '24d'],
    invalid: ['', '10sec', '1s1m', '1.5s', '-1s', '10S', 's', '1y', '25d', '1m m', '10s max_fails=0'],
  },
  filePath: {
    check: checkFilePath,
    valid: ['/etc/ssl/a.crt', '/etc/ssl/private/s3.example.com.key', '/a', '/ünï/cödé', '/a-b_c.d/e@f+g'],
    invalid: ['', 'etc/ssl/a.crt', './a', '/a b', '/a;b', '/a{b', '/a"b', '/a$b', '/a#b', '/a\\b', '/a\nb'],
  },
  routePath: {
    check: checkRoutePath,
    valid: ['/photos/', '/a/b/', '/Reports/2019/', '/a.b-c_d~e!f*g(h)i+j,k=l@m:n/', '/', '/.well-known/'],
    invalid: [
      '',
      'photos/',
      '/photos',
      '//',
      '/a//b/',
      '/./',
      '/a/../b/',
      '/a%20b/',
      '/a?b/',
      '/a&b/',
      '/a b/',
      '/é/',
      `/${'a'.repeat(1030)}/`,
    ],
  },
  keyPrefix: {
    check: checkKeyPrefix,
    valid: ['archive/', 'v2/', 'a', 'a/b', 'a/b/', 'x-y_z.w'],
    invalid: ['', '/a', 'a//b', '../a', 'a/./b', 'a/..', 'a%2F', 'a b', 'a?x'],
  },
  bucketName: {
    check: checkBucketName,
    valid: ['photos', 'abc', 'my-bucket.v2', '123', 'a'.repeat(63), '1.2.3'],
    invalid: ['', 'ab', 'a'.repeat(64), 'Photos', 'my_bucket', '-abc', 'abc-', '.abc', 'a..b', '192.168.1.1', 'a b', 'a/b'],
  },
  envName: {
    check: checkEnvName,
    valid: ['AK', 'NANIO_SECRET_KEY', '_x', 'a1'],
    invalid: ['', '1A', 'A-B', 'A B', 'A.B', 'A$'],
  },
  bandwidth: {
    check: checkBandwidth,
    valid: ['1', '50M', '512K', '1G', '1000000'],
    invalid: ['', '0', '0M', '1.5M', '50MB', '50m', '-1', 'M', '50 M'],
  },
  description: {
    check: checkSingleLine,
    valid: ['', 'Main pool', 'quotes " and \' and ; { } # $ \\ are fine in one line', 'ünïcödé'],
    invalid: ['a\nb', 'a\rb', 'a\tb', 'a\u0000', 'a\u001b[31m'],
    rejectsInjection: false,
  },
};
