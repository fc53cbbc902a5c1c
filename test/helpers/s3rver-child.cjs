// Runs one s3rver (a real S3 HTTP server on a directory) in its own process, for the integration
// tests: `node --openssl-legacy-provider s3rver-child.cjs DIR PORT`. The flag matters: s3rver's
// ListObjectsV2 continuation tokens use DES, which OpenSSL 3 refuses otherwise (a listing longer
// than one page would answer 500). Prints {"port": N} once listening; exits on SIGTERM.
'use strict';
const S3rver = require('s3rver');

const [directory, port] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, vhostBuckets: false });
server.run().then(
  (addr) => process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`),
  (err) => {
    process.stderr.write(`s3rver did not start: ${err.message}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
