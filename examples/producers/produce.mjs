// Write commands to Laurel's topic directly with kafkajs: a user upsert and a metric event.
//
//     node produce.mjs BOOTSTRAP TOPIC TENANT USER_ID METRIC VALUE
//
// Prints the two records' ids and partitions as JSON. Only the topic's record contract is used
// (see the README, "Writing to the topic directly"); nothing of Laurel is imported.

import { randomUUID } from "node:crypto";

import { Kafka, Partitioners, logLevel } from "kafkajs";

const [bootstrap, topic, tenant, userId, metric, value] = process.argv.slice(2);

// The key Laurel expects, byte for byte: JSON.stringify's compact output, as UTF-8.
const recordKey = (tenant, userId) => Buffer.from(JSON.stringify([tenant, userId]), "utf8");

const command = (type, user, fields) => ({
  v: 1,
  type,
  id: randomUUID(), // keep the id when you retry: Laurel counts an id once
  tenant,
  receivedAt: new Date().toISOString(),
  user,
  ...fields,
});

const upsert = command(
  "user.upsert",
  { id: userId, name: "Written by kafkajs", tz: "Asia/Tokyo" },
  { mode: "identify" },
);
const event = command("metric.event", { id: userId }, {
  metric,
  value: Number(value),
  attributes: {},
  idempotencyKey: null,
});

const kafka = new Kafka({ clientId: "laurel-example", brokers: [bootstrap], logLevel: logLevel.WARN });
// The default partitioner of kafkajs 2 is Java's (murmur2), the one Laurel's own producer and
// every Java client use: the same key lands on the same partition whoever writes it.
const producer = kafka.producer({
  createPartitioner: Partitioners.DefaultPartitioner,
  idempotent: true,
  maxInFlightRequests: 1,
});
await producer.connect();
try {
  const sent = [];
  for (const body of [upsert, event]) {
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: recordKey(tenant, userId), value: JSON.stringify(body) }],
    });
    sent.push({ id: body.id, partition: meta.partition });
  }
  console.log(JSON.stringify(sent));
} finally {
  await producer.disconnect();
}
