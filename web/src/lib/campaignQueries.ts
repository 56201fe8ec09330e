import { graphql } from '../generated';

export const CampaignFieldsFragment = graphql(`
  fragment CampaignFields on Campaign {
    id name description status plannedStart plannedEnd templateId dueAt createdAt activatedAt completedAt cancelledAt cancelReason lastChangedAt
    scope { techniques threatActor }
    testCaseIds
    recurrence { cron timezone nextDueAt }
    spawns { dueAt instanceId recordedAt }
    progress {
      total closed percentComplete
      byState { state count }
      byOutcome { outcome count }
      timeToDetect { measured medianSeconds }
    }
  }
`);

export const CampaignDocument = graphql(`
  query Campaign($id: UUID!) {
    campaign(id: $id) { ...CampaignFields }
    testCases(filter: { campaignId: $id }, first: 100) { nodes { id title technique state outcome } }
  }
`);

export const CampaignLiveDocument = graphql(`
  subscription CampaignLive($id: UUID!) { campaignChanged(id: $id) { ...CampaignFields } }
`);
