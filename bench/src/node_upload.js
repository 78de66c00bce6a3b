// Uploads one file with Box's official Node SDK (box-node-sdk 10.x) through
// `chunkedUploads.uploadBigFile`, against the URLs given, and prints one JSON line.
//
// Written to target/bench/node/ (beside its node_modules) and run by box-uploads-bench:
// node upload.js BASE_URL UPLOAD_URL TOKEN FILE NAME
'use strict';

const importStart = process.hrtime.bigint();
const { BoxClient, BoxDeveloperTokenAuth } = require('box-node-sdk');
const importSeconds = Number(process.hrtime.bigint() - importStart) / 1e9;
const fs = require('fs');

async function main() {
  const [baseUrl, uploadUrl, token, path, name] = process.argv.slice(2);
  const client = new BoxClient({ auth: new BoxDeveloperTokenAuth({ token }) }).withCustomBaseUrls({
    baseUrl,
    uploadUrl,
    oauth2Url: baseUrl + '/oauth2',
  });
  const size = fs.statSync(path).size;
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const file = await client.chunkedUploads.uploadBigFile(fs.createReadStream(path), name, size, '0');
  const uploadSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    JSON.stringify({
      upload_s: uploadSeconds,
      import_s: importSeconds,
      file_id: file.id,
      sha1: file.sha1,
      size: file.size,
      upload_cpu_s: (cpu.user + cpu.system) / 1e6,
      self_max_rss_kib: process.resourceUsage().maxRSS,
    }) + '\n',
  );
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
