import { graphql } from '../generated';

export const StartExecutionDocument = graphql(`mutation StartExecution($id: UUID!) { startExecution(id: $id) { id state } }`);
export const CompleteExecutionDocument = graphql(`mutation CompleteExecution($id: UUID!) { completeExecution(id: $id) { id state } }`);
export const StartReviewDocument = graphql(`mutation StartReview($id: UUID!) { startReview(id: $id) { id state } }`);
export const SubmitForApprovalDocument = graphql(`mutation SubmitForApproval($id: UUID!) { submitForApproval(id: $id) { id state } }`);
export const ApproveResultDocument = graphql(`mutation ApproveResult($id: UUID!) { approveResult(id: $id) { id state outcome } }`);
export const PauseDocument = graphql(`mutation PauseTestCase($id: UUID!) { pauseTestCase(id: $id) { id state } }`);
export const ResumeDocument = graphql(`mutation ResumeTestCase($id: UUID!) { resumeTestCase(id: $id) { id state } }`);
export const RevealDocument = graphql(`mutation RevealToBlue($id: UUID!) { revealToBlue(id: $id) { id state } }`);
export const RejectDocument = graphql(`mutation RejectResult($id: UUID!, $reason: String!, $backTo: SideName!) { rejectResult(id: $id, reason: $reason, backTo: $backTo) { id state } }`);
export const AbandonDocument = graphql(`mutation AbandonTestCase($id: UUID!, $reason: String!) { abandonTestCase(id: $id, reason: $reason) { id state } }`);
export const ReopenDocument = graphql(`mutation ReopenTestCase($id: UUID!, $reason: String!) { reopenTestCase(id: $id, reason: $reason) { id state run } }`);
export const AssignDocument = graphql(`mutation AssignTestCase($id: UUID!, $redAssignee: UUID, $blueAssignee: UUID) { assignTestCase(id: $id, redAssignee: $redAssignee, blueAssignee: $blueAssignee) { id state } }`);
export const RecordExecutionDocument = graphql(`mutation RecordExecution($id: UUID!, $execution: ExecutionInput!) { recordExecution(id: $id, execution: $execution) { id state } }`);
export const RecordOutcomeDocument = graphql(`mutation RecordDefenseOutcome($id: UUID!, $outcome: DefenseOutcomeInput!) { recordDefenseOutcome(id: $id, outcome: $outcome) { id state outcome } }`);
export const AddCommentDocument = graphql(`mutation AddComment($id: UUID!, $body: String!) { addComment(id: $id, body: $body) { id } }`);
export const RequestUploadDocument = graphql(`
  mutation RequestEvidenceUpload($testCaseId: UUID!, $side: SideName!, $fileName: String!, $contentType: String!, $size: BigInt!, $sha256: String!) {
    requestEvidenceUpload(testCaseId: $testCaseId, side: $side, fileName: $fileName, contentType: $contentType, size: $size, sha256: $sha256) {
      uploadId method url contentType
    }
  }
`);
export const ConfirmUploadDocument = graphql(`
  mutation ConfirmEvidenceUpload($id: UUID!) { confirmEvidenceUpload(id: $id) { evidenceId fileName sha256 } }
`);
export const EvidenceDownloadDocument = graphql(`
  query EvidenceDownloadUrl($id: UUID!) { evidenceDownloadUrl(id: $id) { url fileName } }
`);
export const LinkRuleDocument = graphql(`mutation LinkDetectionRule($id: UUID!, $rule: String!) { linkDetectionRule(id: $id, rule: $rule) { id } }`);
export const UnlinkRuleDocument = graphql(`mutation UnlinkDetectionRule($id: UUID!, $rule: String!) { unlinkDetectionRule(id: $id, rule: $rule) { id } }`);
export const RemoveEvidenceDocument = graphql(`mutation RemoveEvidence($id: UUID!, $evidenceId: UUID!) { removeEvidence(id: $id, evidenceId: $evidenceId) { id } }`);
