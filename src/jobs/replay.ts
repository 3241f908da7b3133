// Job "replay": queues a replay's attempts, then follows it to its end (domain/replays/service.ts
// run()). Its own job, so a large replay runs beside deliveries and never in front of other
// webhooks' fresh events.
import type { Agenda, Job } from 'agenda';
import type { ReplayRunner, ReplayService } from '../domain/replays/service.ts';
import type { Logger } from '../logger.ts';

export const REPLAY_JOB = 'replay';

interface ReplayJobData {
  replayId: string;
}

export function defineReplayJob(agenda: Agenda, replays: ReplayService, logger: Logger): void {
  agenda.define<ReplayJobData>(
    REPLAY_JOB,
    async (job: Job<ReplayJobData>) => {
      const { replayId } = job.attrs.data;
      // First run: queue the attempts. Then the job comes back now and then until the replay
      // ended (completed, or cancelled because its webhook went), records that and frees the
      // webhook. Agenda saves nextRunAt when the job ends (null: done).
      const next = await replays.run(replayId);
      job.attrs.nextRunAt = next;
      if (!next) logger.info('replay finished', { replayId });
    },
    {
      concurrency: 2,
      lockLifetime: 5 * 60_000,
      // A run that failed (the database away for a moment) comes back, else the replay would
      // hold its webhook until the next replay request finds it stale.
      backoff: ({ attempt }) => (attempt <= 30 ? Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)) : null),
    },
  );
}

export class AgendaReplayRunner implements ReplayRunner {
  constructor(private readonly agenda: Agenda) {}

  async start(replayId: string): Promise<void> {
    await this.agenda.now<ReplayJobData>(REPLAY_JOB, { replayId });
  }
}
