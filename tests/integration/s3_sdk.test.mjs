// S3 through the AWS SDK for JavaScript v3 (@aws-sdk/client-s3) with its
// default checksum behaviour (CRC32 trailers over aws-chunked bodies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash, randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand, DeleteObjectsCommand, CopyObjectCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
  ListPartsCommand, ListMultipartUploadsCommand,
  GetObjectTaggingCommand, PutObjectTaggingCommand, DeleteObjectTaggingCommand,
  GetBucketTaggingCommand, PutBucketTaggingCommand, DeleteBucketTaggingCommand,
  GetBucketAclCommand, GetBucketOwnershipControlsCommand, GetBucketPolicyCommand,
  GetBucketEncryptionCommand, DeleteBucketCommand, paginateListBuckets,
  GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand,
  DeleteBucketLifecycleCommand, PutBucketPolicyCommand, DeleteBucketPolicyCommand,
  GetBucketPolicyStatusCommand, PutBucketAclCommand, PutObjectAclCommand, GetObjectAclCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { Crc64Nvme } from '@aws-sdk/checksums/crc';
import { startServer } from './harness.mjs';

let server;
let s3;
const bucket = 'node-' + randomUUID().slice(0, 12);

before(async () => {
  server = await startServer();
  s3 = new S3Client(server.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  s3?.destroy();
  await server?.stop();
});

test('put and get with default checksums, byte for byte', async () => {
  for (const size of [0, 5, 70_000, 3 * 1024 * 1024 + 1]) {
    const body = randomBytes(size);
    const key = `obj-${size}`;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    assert.equal(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    const bytes = Buffer.from(await got.Body.transformToByteArray());
    assert.equal(Buffer.compare(bytes, body), 0, `content of ${key}`);
  }
});

test('metadata, head and copy', async () => {
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'meta', Body: 'hello', ContentType: 'text/plain', Metadata: { owner: 'me' },
  }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta' }));
  assert.equal(head.ContentType, 'text/plain');
  assert.deepEqual(head.Metadata, { owner: 'me' });
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'meta-copy', CopySource: `${bucket}/meta` }));
  const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'meta-copy' }));
  assert.equal(await copy.Body.transformToString(), 'hello');
});

test('list v2 with delimiter, and delete objects', async () => {
  for (const k of ['p/a', 'p/b', 'p/q/c', 'z']) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `list/${k}`, Body: k }));
  }
  const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/p/', Delimiter: '/' }));
  assert.deepEqual(res.Contents.map((o) => o.Key), ['list/p/a', 'list/p/b']);
  assert.deepEqual(res.CommonPrefixes.map((p) => p.Prefix), ['list/p/q/']);
  const del = await s3.send(new DeleteObjectsCommand({
    Bucket: bucket, Delete: { Objects: ['p/a', 'p/b', 'p/q/c', 'z'].map((k) => ({ Key: `list/${k}` })) },
  }));
  assert.equal(del.Deleted.length, 4);
});

test('multipart upload', async () => {
  const key = 'multi';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const p1 = randomBytes(5 * 1024 * 1024);
  const p2 = randomBytes(1234);
  const r1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: p1 }));
  const r2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 2, Body: p2 }));
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: key, UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: r1.ETag }, { PartNumber: 2, ETag: r2.ETag }] },
  }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from(await got.Body.transformToByteArray());
  assert.equal(Buffer.compare(bytes, Buffer.concat([p1, p2])), 0);
});

test('object tagging', async () => {
  const key = 'tagged';
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x', Tagging: 'stage=raw&team=a%20b' }));
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
  assert.deepEqual(tags.TagSet, [{ Key: 'stage', Value: 'raw' }, { Key: 'team', Value: 'a b' }]);
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).TagCount, 2);
  assert.equal((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).TagCount, 2);
  await s3.send(new PutObjectTaggingCommand({
    Bucket: bucket, Key: key, Tagging: { TagSet: [{ Key: 'stage', Value: 'done' }] },
  }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet,
    [{ Key: 'stage', Value: 'done' }]);
  await assert.rejects(s3.send(new PutObjectTaggingCommand({
    Bucket: bucket, Key: key, Tagging: { TagSet: [{ Key: 'a', Value: '1' }, { Key: 'a', Value: '2' }] },
  })), (err) => err.name === 'InvalidTag');
  await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: key }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet, []);
});

test('bucket tagging', async () => {
  await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })),
    (err) => err.name === 'NoSuchTagSet' && err.$metadata.httpStatusCode === 404);
  const TagSet = [{ Key: 'team', Value: 'imaging' }, { Key: 'tier', Value: 'gold' }];
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet } }));
  assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, TagSet);
  await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
  await assert.rejects(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })),
    (err) => err.name === 'NoSuchTagSet');
});

test('bucket lifecycle', async () => {
  await assert.rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })),
    (err) => err.name === 'NoSuchLifecycleConfiguration' && err.$metadata.httpStatusCode === 404);
  const Rules = [
    { ID: 'tmp', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', Expiration: { Days: 1 } },
    { ID: 'big', Status: 'Enabled', Expiration: { Days: 30 },
      Filter: { And: { Prefix: 'raw/', ObjectSizeGreaterThan: 1048576 } } },
  ];
  await s3.send(new PutBucketLifecycleConfigurationCommand({
    Bucket: bucket, LifecycleConfiguration: { Rules } }));
  const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
  assert.deepEqual(got.Rules, Rules);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tmp/x', Body: 'x' }));
  assert.match(put.Expiration, /^expiry-date="[^"]+ 00:00:00 GMT", rule-id="tmp"$/);
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'tmp/x' }));
  await s3.send(new DeleteBucketLifecycleCommand({ Bucket: bucket }));
  await assert.rejects(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })),
    (err) => err.name === 'NoSuchLifecycleConfiguration');
});

test('bucket policy', async () => {
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'nodelete', Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject',
      Resource: `arn:aws:s3:::${bucket}/keep/*` }],
  });
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy }));
  const got = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }));
  assert.deepEqual(JSON.parse(got.Policy), JSON.parse(Policy));
  const status = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket }));
  assert.equal(status.PolicyStatus.IsPublic, false);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/a', Body: 'a' }));
  await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'keep/a' })),
    (err) => err.name === 'AccessDenied' && err.$metadata.httpStatusCode === 403);
  await assert.rejects(s3.send(new PutBucketPolicyCommand({ Bucket: bucket,
    Policy: Policy.replace(`${bucket}/keep`, 'elsewhere/keep') })),
  (err) => err.name === 'MalformedPolicy' && /invalid resource/.test(err.message));
  await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'keep/a' }));
});

test('reading settings of a bucket with nothing configured', async () => {
  const acl = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
  assert.equal(acl.Grants.length, 1);
  assert.equal(acl.Grants[0].Permission, 'FULL_CONTROL');
  assert.equal(acl.Grants[0].Grantee.ID, acl.Owner.ID);
  const ownership = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }));
  assert.deepEqual(ownership.OwnershipControls.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
  await assert.rejects(s3.send(new GetBucketPolicyCommand({ Bucket: bucket })),
    (err) => err.name === 'NoSuchBucketPolicy' && err.$metadata.httpStatusCode === 404);
  await assert.rejects(s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })),
    (err) => err.name === 'ServerSideEncryptionConfigurationNotFoundError');
});

test('ACLs are disabled: only the owner\'s own grants are accepted', async () => {
  const { Owner } = await s3.send(new GetBucketAclCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'acl/a.jpg', Body: 'x', ACL: 'bucket-owner-full-control' }));
  await s3.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'acl/a.jpg', ACL: 'private' }));
  await s3.send(new PutBucketAclCommand({ Bucket: bucket, GrantFullControl: `id="${Owner.ID}"` }));
  const notSupported = (err) =>
    err.name === 'AccessControlListNotSupported' && err.$metadata.httpStatusCode === 400;
  await assert.rejects(s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'acl/b.jpg', Body: 'x', ACL: 'public-read' })), notSupported);
  await assert.rejects(s3.send(new PutObjectAclCommand({
    Bucket: bucket, Key: 'acl/a.jpg', AccessControlPolicy: {
      Owner, Grants: [{ Grantee: { Type: 'AmazonCustomerByEmail', EmailAddress: 'a@example.com' },
        Permission: 'READ' }] } })), notSupported);
  await assert.rejects(s3.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read-write' })),
    notSupported);
  const acl = await s3.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'acl/a.jpg' }));
  assert.deepEqual(acl.Grants.map((g) => g.Grantee.ID), [Owner.ID]);
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'acl/b.jpg' })),
    (err) => err.$metadata.httpStatusCode === 404);
});

test('browser POST upload with createPresignedPost (SigV4)', async () => {
  const { url, fields } = await createPresignedPost(s3, {
    Bucket: bucket, Key: 'posted/${filename}', Expires: 300,
    Conditions: [['content-length-range', 1, 1024], ['starts-with', '$Content-Type', 'image/']],
    Fields: { 'Content-Type': 'image/png' },
  });
  const post = (file, name) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([file]), name);
    return fetch(url, { method: 'POST', body: form });
  };
  const ok = await post('PNG bytes', 'dot.png');
  assert.equal(ok.status, 204, await ok.text());
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'posted/dot.png' }));
  assert.equal(await got.Body.transformToString(), 'PNG bytes');
  assert.equal(got.ContentType, 'image/png');
  const big = await post('x'.repeat(1025), 'big.png');
  assert.equal(big.status, 400);
  assert.match(await big.text(), /<Code>EntityTooLarge<\/Code>/);
});

test('list buckets by prefix, one page at a time', async () => {
  const prefix = 'nodepg-' + randomUUID().slice(0, 8) + '-';
  for (const n of [0, 1, 2]) await s3.send(new CreateBucketCommand({ Bucket: prefix + n }));
  const names = [];
  for await (const page of paginateListBuckets({ client: s3, pageSize: 2 }, { Prefix: prefix })) {
    assert.ok(page.Buckets.length <= 2);
    for (const b of page.Buckets) {
      assert.equal(b.BucketRegion, 'us-east-1');
      names.push(b.Name);
    }
  }
  assert.deepEqual(names, [prefix + 0, prefix + 1, prefix + 2]);
  for (const n of [0, 1, 2]) await s3.send(new DeleteBucketCommand({ Bucket: prefix + n }));
});

async function crc64nvme(bytes) {
  const crc = new Crc64Nvme();
  crc.update(bytes);
  return Buffer.from(await crc.digest()).toString('base64');
}

// CRC64NVME is what the AWS CLI v2 (since 2.23) checksums uploads with by default;
// the SDK sends it when asked and verifies it on GET with ChecksumMode.
test('CRC64NVME uploads: single, multipart (FULL_OBJECT) and delete objects', async () => {
  const body = randomBytes(70_000);
  const put = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'crc64', Body: body, ChecksumAlgorithm: 'CRC64NVME',
  }));
  assert.equal(put.ChecksumCRC64NVME, await crc64nvme(body));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'crc64', ChecksumMode: 'ENABLED' }));
  assert.equal(got.ChecksumCRC64NVME, await crc64nvme(body));
  assert.equal(Buffer.compare(Buffer.from(await got.Body.transformToByteArray()), body), 0);

  const key = 'crc64-multi';
  const created = await s3.send(new CreateMultipartUploadCommand({
    Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT',
  }));
  assert.equal(created.ChecksumType, 'FULL_OBJECT');
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(4321)];
  const uploaded = [];
  for (const [i, part] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: part,
      ChecksumAlgorithm: 'CRC64NVME',
    }));
    assert.equal(r.ChecksumCRC64NVME, await crc64nvme(part));
    uploaded.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC64NVME: r.ChecksumCRC64NVME });
  }
  // The listings repeat the upload's algorithm and type.
  const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: created.UploadId }));
  assert.deepEqual([listed.ChecksumAlgorithm, listed.ChecksumType], ['CRC64NVME', 'FULL_OBJECT']);
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  assert.deepEqual(uploads.Uploads.map((u) => [u.UploadId, u.ChecksumAlgorithm, u.ChecksumType]),
    [[created.UploadId, 'CRC64NVME', 'FULL_OBJECT']]);
  const whole = Buffer.concat(parts);
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: key, UploadId: created.UploadId, ChecksumType: 'FULL_OBJECT',
    ChecksumCRC64NVME: await crc64nvme(whole), MultipartUpload: { Parts: uploaded },
  }));
  const multi = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
  assert.equal(multi.ChecksumCRC64NVME, await crc64nvme(whole));
  assert.equal(multi.ChecksumType, 'FULL_OBJECT');
  assert.equal(Buffer.compare(Buffer.from(await multi.Body.transformToByteArray()), whole), 0);

  const del = await s3.send(new DeleteObjectsCommand({
    Bucket: bucket, ChecksumAlgorithm: 'CRC64NVME',
    Delete: { Objects: [{ Key: 'crc64' }, { Key: key }] },
  }));
  assert.equal(del.Deleted.length, 2);
});

// S3 gives an object uploaded without any checksum a CRC64NVME of its own (the default
// since 2025); the SDK then verifies downloads against it. This client sends no checksum
// unless an operation requires one, as older SDKs, s3cmd and presigned PUTs do.
test('uploads without a checksum get the default CRC64NVME, verified on GET', async () => {
  const plain = new S3Client({ ...server.clientConfig, requestChecksumCalculation: 'WHEN_REQUIRED' });
  try {
    const body = randomBytes(70_000);
    const put = await plain.send(new PutObjectCommand({ Bucket: bucket, Key: 'default-crc', Body: body }));
    assert.equal(put.ChecksumCRC64NVME, await crc64nvme(body));
    assert.equal(put.ChecksumType, 'FULL_OBJECT');
    const got = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: 'default-crc', ChecksumMode: 'ENABLED' }));
    assert.equal(got.ChecksumCRC64NVME, await crc64nvme(body));
    assert.equal(Buffer.compare(Buffer.from(await got.Body.transformToByteArray()), body), 0);

    const key = 'default-crc-multi';
    const created = await plain.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(999)];
    const uploaded = [];
    for (const [i, part] of parts.entries()) {
      const r = await plain.send(new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: part,
      }));
      uploaded.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    await plain.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: uploaded },
    }));
    const whole = Buffer.concat(parts);
    const multi = await plain.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    assert.equal(multi.ChecksumCRC64NVME, await crc64nvme(whole));
    assert.equal(multi.ChecksumType, 'FULL_OBJECT');
    assert.equal(Buffer.compare(Buffer.from(await multi.Body.transformToByteArray()), whole), 0);
  } finally {
    plain.destroy();
  }
});

// A CRC32 upload created FULL_OBJECT (what transfer managers that compare with their own CRC
// ask for): the object's CRC32 is the whole body's, which the SDK verifies on GET.
test('FULL_OBJECT CRC32 multipart upload, verified on GET', async () => {
  const key = 'crc32-full';
  const created = await s3.send(new CreateMultipartUploadCommand({
    Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT',
  }));
  assert.equal(created.ChecksumType, 'FULL_OBJECT');
  const parts = [randomBytes(5 * 1024 * 1024), randomBytes(777)];
  const uploaded = [];
  for (const [i, part] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: part,
      ChecksumAlgorithm: 'CRC32',
    }));
    uploaded.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
  }
  const whole = Buffer.concat(parts);
  const crc32 = (bytes) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(zlib.crc32(bytes));
    return out.toString('base64');
  };
  const done = await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: key, UploadId: created.UploadId, ChecksumType: 'FULL_OBJECT',
    ChecksumCRC32: crc32(whole), MultipartUpload: { Parts: uploaded },
  }));
  assert.equal(done.ChecksumCRC32, crc32(whole));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
  assert.equal(got.ChecksumCRC32, crc32(whole));
  assert.equal(got.ChecksumType, 'FULL_OBJECT');
  assert.equal(Buffer.compare(Buffer.from(await got.Body.transformToByteArray()), whole), 0);
});

test('presigned GET url', async () => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'pre', Body: 'signed' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'pre' }), { expiresIn: 60 });
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), 'signed');
});

test('errors: NoSuchKey and wrong secret', async () => {
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' })),
    (e) => e.name === 'NoSuchKey');
  const bad = new S3Client({ ...server.clientConfig, credentials: { accessKeyId: server.clientConfig.credentials.accessKeyId, secretAccessKey: 'wrong' } });
  await assert.rejects(bad.send(new HeadObjectCommand({ Bucket: bucket, Key: 'pre' })),
    (e) => e.$metadata?.httpStatusCode === 403);
  await assert.rejects(bad.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'pre' })),
    (e) => e.name === 'SignatureDoesNotMatch');
  bad.destroy();
});
