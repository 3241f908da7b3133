// Webhook-change notices exist only for connected subscribers; they carry the webhook (with its
// secret), so retention removes them after an hour rather than keeping them for the full period.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { runRetention } from '../../src/jobs/retention.ts';
import { EventStore } from '../../src/store/events.ts';
import { DeliveryStore } from '../../src/store/deliveries.ts';
import { MessageStore } from '../../src/store/messages.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.stop();
});

it('removes webhook-change notices older than an hour and keeps newer ones', async () => {
  const created = await t.request('POST', '/v1/sites/notices/webhooks', { body: { url: 'https://example.com/h', events: ['*'] } });
  expect(created.status).toBe(201);
  const notices = t.app.database.collections.webhookChanges;
  expect(await notices.countDocuments({ siteId: 'notices' })).toBe(1);
  await notices.insertOne({ siteId: 'notices', webhook: { id: 'old' }, at: new Date(Date.now() - 2 * 3_600_000) });

  const c = t.app.database.collections;
  const removed = await runRetention(
    {
      events: new EventStore(c.events),
      deliveries: new DeliveryStore(c.deliveries),
      messages: new MessageStore(c.messages),
      live: t.app.live,
      retentionDays: 30,
    },
    new Date(),
  );
  expect(removed.liveNotices).toBe(1);
  const left = await notices.find({ siteId: 'notices' }).toArray();
  expect(left.map((n) => (n.webhook as { id: string }).id)).toEqual([created.body.data.id]);
});
