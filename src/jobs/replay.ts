// Job "replay": queues a replay's attempts (domain/replays/service.ts schedule()). Its own job, so
// a large replay runs beside deliveries and never in front of other webhooks' fresh events.
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
      await replays.schedule(job.attrs.data.replayId);
      logger.info('replay scheduled', { replayId: job.attrs.data.replayId });
    },
    { concurrency: 2, lockLifetime: 5 * 60_000 },
  );
}

export class AgendaReplayRunner implements ReplayRunner {
  constructor(private readonly agenda: Agenda) {}

  async start(replayId: string): Promise<void> {
    await this.agenda.now<ReplayJobData>(REPLAY_JOB, { replayId });
  }
}
