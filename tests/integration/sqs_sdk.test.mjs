// SQS through the AWS SDK for JavaScript v3 (AWS JSON 1.0 protocol) and the
// sqs-consumer library (14.x) consuming a few hundred messages with deletes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import {
  SQSClient, CreateQueueCommand, SendMessageCommand, SendMessageBatchCommand,
  ReceiveMessageCommand, DeleteMessageCommand, GetQueueAttributesCommand, GetQueueUrlCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import { metric, startServer, waitUntil } from './harness.mjs';

let server;
let sqs;

before(async () => {
  server = await startServer(['--max-workers', '0']);
  const { forcePathStyle, ...config } = server.clientConfig;
  sqs = new SQSClient(config);
});

after(async () => {
  sqs?.destroy();
  await server?.stop();
});

test('send, receive with attributes (MD5s verified by the SDK), delete', async () => {
  const name = 'node-' + randomUUID().slice(0, 8);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  assert.equal(QueueUrl, `${server.endpoint}/000000000000/${name}`);
  await sqs.send(new SendMessageCommand({
    QueueUrl, MessageBody: 'héllo',
    MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
  }));
  const got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'],
    MessageSystemAttributeNames: ['All'],
  }));
  assert.equal(got.Messages.length, 1);
  assert.equal(got.Messages[0].Body, 'héllo');
  assert.equal(got.Messages[0].MessageAttributes.k.StringValue, 'v');
  assert.equal(got.Messages[0].Attributes.ApproximateReceiveCount, '1');
  await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: got.Messages[0].ReceiptHandle }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  assert.equal(attrs.Attributes.ApproximateNumberOfMessages, '0');
  assert.equal(attrs.Attributes.ApproximateNumberOfMessagesNotVisible, '0');
});

test('a fair queue: a quiet tenant is served before a noisy tenant\'s backlog', async () => {
  const name = 'fair-' + randomUUID().slice(0, 8);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  for (let i = 0; i < 100; i += 10) {
    await sqs.send(new SendMessageBatchCommand({
      QueueUrl,
      Entries: Array.from({ length: 10 }, (_, j) => ({
        Id: String(j), MessageBody: `noisy-${i + j}`, MessageGroupId: 'noisy',
      })),
    }));
  }
  // 40 of the noisy tenant's messages in flight: more than 10% of them, and at least 30.
  for (let taken = 0; taken < 40;) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }));
    taken += r.Messages.length;
  }
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'quiet', MessageGroupId: 'quiet' }));
  const noisyGroups = `imgbatch_queue_noisy_groups{queue="${name}"}`;
  await waitUntil(async () => await metric(server.endpoint, noisyGroups) === 1,
    { what: 'the noisy tenant to be found (once a second)' });
  const got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl, MaxNumberOfMessages: 3, MessageSystemAttributeNames: ['MessageGroupId'],
  }));
  assert.deepEqual(got.Messages.map((m) => m.Body), ['quiet', 'noisy-40', 'noisy-41']);
  assert.equal(got.Messages[0].Attributes.MessageGroupId, 'quiet');
});

test('a FIFO queue: groups in order, deduplication, sequence numbers', async () => {
  const QueueName = 'node-' + randomUUID().slice(0, 8) + '.fifo';
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({
    QueueName, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
  }));
  const sent = [];
  for (const body of ['a1', 'b1', 'a2']) {
    sent.push(await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: body[0] })));
  }
  const again = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a1', MessageGroupId: 'a' }));
  assert.equal(again.MessageId, sent[0].MessageId);  // content-based deduplication
  // The first FIFO queue of this server: its three ids, the duplicate not counted again.
  assert.equal(await metric(server.endpoint, 'imgbatch_queue_fifo_deduplication_ids'), 3);
  assert.ok(BigInt(sent[0].SequenceNumber) < BigInt(sent[2].SequenceNumber));
  const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));
  assert.deepEqual(first.Messages.map((m) => m.Body), ['a1']);
  const rest = await sqs.send(new ReceiveMessageCommand({
    QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'],
  }));
  assert.deepEqual(rest.Messages.map((m) => m.Body), ['b1']);  // a2 waits for a1
  assert.equal(rest.Messages[0].Attributes.MessageGroupId, 'b');
  assert.equal(rest.Messages[0].Attributes.SequenceNumber, sent[1].SequenceNumber);
});

test('errors have the classic codes', async () => {
  await assert.rejects(sqs.send(new GetQueueUrlCommand({ QueueName: 'missing-' + randomUUID().slice(0, 8) })),
    (e) => e.name === 'QueueDoesNotExist' || e.Code === 'AWS.SimpleQueueService.NonExistentQueue');
});

test('a queue policy is enforced; one that is no IAM policy or over the quotas is refused', async () => {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({
    QueueName: 'policy-' + randomUUID().slice(0, 8) }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl, AttributeNames: ['QueueArn'] }));
  await assert.rejects(sqs.send(new SetQueueAttributesCommand({
    QueueUrl, Attributes: { Policy: '{"Statement": []}' } })),
  (e) => e.name === 'InvalidAttributeValue' && e.$metadata.httpStatusCode === 400);
  const Policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny',
    Principal: '*', Action: 'sqs:SendMessage', Resource: Attributes.QueueArn }] });
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy } }));
  await assert.rejects(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' })),
    (e) => e.$metadata.httpStatusCode === 403);
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy: '' } }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }));
  // SQS's quota of 20 statements: OverLimit, 403, AWS's message.
  const tooMany = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 21 },
    (_, i) => ({ Sid: `s${i}`, Effect: 'Allow', Principal: '*', Action: 'sqs:SendMessage',
      Resource: Attributes.QueueArn })) });
  await assert.rejects(sqs.send(new SetQueueAttributesCommand({
    QueueUrl, Attributes: { Policy: tooMany } })),
  (e) => e.name === 'OverLimit' && e.$metadata.httpStatusCode === 403 &&
    e.message === '21 statements were found in the submitted policy, max allowed is 20');
});

test('a FIFO queue over its calls-per-second quota answers RequestThrottled (403)', async () => {
  // AWS's quota is 300 calls per second per API method; the config lowers it.
  const dir = mkdtempSync(join(tmpdir(), 'imgbatch-rate-'));
  const config = join(dir, 'rate.toml');
  writeFileSync(config, '[limits]\nfifo_calls_per_second = 2\n');
  const limited = await startServer(['--max-workers', '0', '--config', config]);
  const { forcePathStyle, ...clientConfig } = limited.clientConfig;
  const once = new SQSClient({ ...clientConfig, maxAttempts: 1 });  // the SDK retries throttling
  try {
    const { QueueUrl } = await once.send(new CreateQueueCommand({
      QueueName: `rate-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
    }));
    let throttled;
    for (let i = 0; i < 20 && !throttled; i++) {
      try {
        await once.send(new SendMessageCommand({ QueueUrl, MessageBody: `m${i}`, MessageGroupId: 'g' }));
      } catch (e) {
        throttled = e;
      }
    }
    assert.ok(throttled, '20 sends back to back at a quota of 2 per second');
    assert.equal(throttled.name, 'RequestThrottled');
    assert.equal(throttled.$metadata.httpStatusCode, 403);
    assert.match(throttled.message, /^Request is throttled/);
    const counter = `imgbatch_queue_throttled_calls_total{queue="${QueueUrl.split('/').pop()}"}`;
    assert.equal(await metric(limited.endpoint, counter), 1);
  } finally {
    once.destroy();
    await limited.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sqs-consumer drains a few hundred messages with deletes', async () => {
  const name = 'consumer-' + randomUUID().slice(0, 8);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const total = 300;
  for (let i = 0; i < total; i += 10) {
    const Entries = [];
    for (let j = i; j < i + 10; j++) Entries.push({ Id: String(j), MessageBody: String(j) });
    const r = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
    assert.equal(r.Successful.length, 10);
  }
  const seen = new Set();
  const errors = [];
  const consumer = Consumer.create({
    queueUrl: QueueUrl, sqs, batchSize: 10, waitTimeSeconds: 1,
    handleMessage: async (m) => { seen.add(m.Body); return m; },
  });
  consumer.on('error', (e) => errors.push(e));
  consumer.on('processing_error', (e) => errors.push(e));
  consumer.start();
  await waitUntil(() => seen.size === total, { timeoutMs: 60000, what: 'all messages consumed' });
  consumer.stop({ abort: true });
  assert.deepEqual(errors, []);
  await waitUntil(async () => {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
    return a.Attributes.ApproximateNumberOfMessages === '0' &&
      a.Attributes.ApproximateNumberOfMessagesNotVisible === '0';
  }, { what: 'every message deleted' });
});

// Each poll is a socket in this process and one in the server: both need an
// open-file limit well above 2,000 (Node and the server raise their soft
// limits to the hard one, which some containers keep at 1,024).
const hardOpenFileLimit = Number(execSync('ulimit -Hn', { shell: '/bin/sh' }).toString().trim());
const fewFiles = Number.isFinite(hardOpenFileLimit) && hardOpenFileLimit < 2600;

test('2,000 long polls wait at once without a thread each; each gets one message', {
  skip: fewFiles && `the hard open-file limit is ${hardOpenFileLimit}; 2,000 connections need more`,
}, async () => {
  const polls = 2000;
  const name = 'pollers-' + randomUUID().slice(0, 8);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  // A client with a connection per poll (the SDK's default agent keeps 50).
  const { forcePathStyle, ...config } = server.clientConfig;
  const pollers = new SQSClient({
    ...config,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: polls }) },
  });
  const threads = () => readdirSync(`/proc/${server.pid}/task`).length;
  await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
  const threadsBefore = threads();
  const received = Array.from({ length: polls }, () => pollers.send(new ReceiveMessageCommand({
    QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 1,
  })));
  await waitUntil(async () => await metric(server.endpoint, 'imgbatch_queue_receives_waiting') === polls,
    { what: `${polls} parked receives` });
  assert.ok(await metric(server.endpoint, 'imgbatch_http_connections_open') >= polls);
  assert.equal(threads(), threadsBefore);
  for (let i = 0; i < polls; i += 100) {
    await Promise.all(Array.from({ length: 10 }, (_, b) => sqs.send(new SendMessageBatchCommand({
      QueueUrl,
      Entries: Array.from({ length: 10 }, (_, j) => ({ Id: String(j), MessageBody: String(i + b * 10 + j) })),
    }))));
  }
  const bodies = new Set();
  for (const r of await Promise.all(received)) {
    assert.equal(r.Messages?.length, 1);
    bodies.add(r.Messages[0].Body);
  }
  assert.equal(bodies.size, polls);
  assert.equal(await metric(server.endpoint, 'imgbatch_queue_receives_waiting'), 0);
  pollers.destroy();
});
