// Records requests exactly as the AWS SDK for JavaScript v3 signs them, for
// auth_test (same file format as record_botocore.py). Nothing is sent: a
// custom request handler captures the signed request and fails the call.
//   node src/auth/testdata/record_js_sdk.mjs tests/integration src/auth/testdata/sdk
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";

const [modulesDir, outDir] = process.argv.slice(2);
const require = createRequire(join(resolve(modulesDir), "package.json"));
const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectsCommand } =
  require("@aws-sdk/client-s3");
const { SQSClient, SendMessageCommand, ReceiveMessageCommand } = require("@aws-sdk/client-sqs");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");
const version = require("@aws-sdk/client-s3/package.json").version.split(".")[1];
const tag = `jssdk-${version}`;

const config = {
  endpoint: "http://127.0.0.1:4566",
  region: "us-east-1",
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: { accessKeyId: "AKIAIMGBATCHSDKTEST1",
                 secretAccessKey: "sdk/test+secret0123456789abcdefghijklmn" },
};

function escape(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function queryString(query) {
  const parts = [];
  for (const key of Object.keys(query || {})) {
    const value = query[key];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) parts.push(v === null || v === undefined ? escape(key) : `${escape(key)}=${escape(v)}`);
  }
  return parts.join("&");
}

async function bodyBytes(body) {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === "string" || body instanceof Uint8Array) return Buffer.from(body);
  const chunks = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

let captured = null;
const requestHandler = {
  async handle(request) {
    captured = { method: request.method, path: request.path, query: queryString(request.query),
                 headers: { ...request.headers, host: request.headers.host ?? `${request.hostname}:${request.port}` },
                 body: await bodyBytes(request.body) };
    throw new Error("captured");
  },
};

async function record(name, client, command) {
  captured = null;
  try { await client.send(command); } catch (e) { /* expected */ }
  if (!captured) { console.error("no request for", name); return; }
  const lines = [captured.method, captured.path, captured.query];
  for (const [k, v] of Object.entries(captured.headers)) lines.push(`${k}: ${v}`);
  writeFileSync(join(outDir, `${tag}_${name}.req`),
                Buffer.concat([Buffer.from(lines.join("\n") + "\n\n"), captured.body]));
}

const s3 = new S3Client({ ...config, requestHandler });
const sqs = new SQSClient({ ...config, requestHandler });
const key = "photos/a b+c/\u00e9t\u00e9 (1)~!.jpg";
await record("s3_put_object", s3, new PutObjectCommand({ Bucket: "input", Key: key, Body: "hello world",
  ContentType: "image/jpeg", Metadata: { origin: "camera 1" } }));
await record("s3_put_object_stream", s3, new PutObjectCommand({ Bucket: "input", Key: "stream.bin",
  Body: Readable.from([Buffer.alloc(70000, "y")]), ContentLength: 70000 }));
await record("s3_get_range", s3, new GetObjectCommand({ Bucket: "input", Key: key, Range: "bytes=0-9" }));
await record("s3_list_v2", s3, new ListObjectsV2Command({ Bucket: "input", Prefix: "a b+c/=&?",
  Delimiter: "/", MaxKeys: 5 }));
await record("s3_delete_objects", s3, new DeleteObjectsCommand({ Bucket: "input",
  Delete: { Objects: [{ Key: "a" }, { Key: "b c" }] } }));
await record("sqs_send_message", sqs, new SendMessageCommand({
  QueueUrl: "http://127.0.0.1:4566/000000000000/jobs", MessageBody: "hello {\"json\": true} & more" }));
await record("sqs_receive_message", sqs, new ReceiveMessageCommand({
  QueueUrl: "http://127.0.0.1:4566/000000000000/jobs", MaxNumberOfMessages: 10, WaitTimeSeconds: 20 }));

const presigner = new S3Client(config);
const url = new URL(await getSignedUrl(presigner, new GetObjectCommand({ Bucket: "input", Key: key }),
                                       { expiresIn: 3600 }));
writeFileSync(join(outDir, `${tag}_s3_presigned_get.req`),
              `GET\n${url.pathname}\n${url.search.slice(1)}\nHost: ${url.host}\n\n`);
