import type { StreamrecConfig } from '../config/config.ts';
import type { Recommender } from './recommender.ts';
import { CooccurrenceRecommender } from '../model/cooccurrence.ts';

/** Builds the recommender a topology asks for; a bad model file is refused here, before any consumer starts. */
export async function createRecommender(config: StreamrecConfig): Promise<Recommender> {
  switch (config.model.kind) {
    case 'cooccurrence':
      return new CooccurrenceRecommender(config.serving.topK, config.serving.sessions.maxSessions);
    case 'gru4rec':
      throw new Error('model.kind gru4rec: serving the GRU4Rec model is not wired into the pipeline yet');
  }
}
