/** What a check of one manifest value found wrong, in the operator's words: the fault and what to do. */
export interface Problem {
  message: string;
  hint: string;
}
