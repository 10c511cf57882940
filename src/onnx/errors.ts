/**
 * An error meant for people: one sentence naming the file / node / op / input at fault and what
 * to do. The CLI prints it after `error:`; the extension shows it in a notification.
 */
export class AnalysisError extends Error {
  /** The raw text behind the message (onnxruntime's own, with its C++ locations), for logs and --verbose. */
  readonly detail?: string;
  constructor(message: string, detail?: string) {
    super(message);
    this.name = 'AnalysisError';
    if (detail !== undefined && detail !== message) this.detail = detail;
  }
}

/** Bad usage of the command line (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The user (or a caller) cancelled the analysis. */
export class CancelledError extends Error {
  constructor() {
    super('the analysis was cancelled');
    this.name = 'CancelledError';
  }
}
