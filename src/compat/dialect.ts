import { STATUS_CODES } from 'node:http'
import { AppError, type ErrorCode, type FieldError } from '../errors.js'
import type { HistoryRow } from '../repositories/history.repository.js'
import type { UnionMessage } from '../schemas/compat.schema.js'

/**
 * What the dialects share: the union message shape, and errors reworded (and, where an original
 * answered with another status, re-statused) without changing the rule that raised them.
 */

/** A message with the union of the originals' fields (`content` = `text`, `timestamp` = `created_at`). */
export function toUnionMessage(row: HistoryRow): UnionMessage {
  return {
    id: row.id,
    chat_id: row.chat_id,
    text: row.text,
    created_at: row.created_at,
    sender_id: row.sender_id,
    sender_username: row.sender_username,
    receiver_id: row.receiver_id,
    content: row.text,
    timestamp: row.created_at,
  }
}

export interface Rewording {
  /** The detail the original used for this error. */
  detail?: string
  /** The status the original answered with; the code stays Parley's. */
  status?: number
  /** Field errors in the dialect's field names, by the path the rule used (`/body/user_id`). */
  fields?: Record<string, FieldError>
}

/** The same error in the dialect's words: its detail, its status, its field names. */
export function reword(error: AppError, how: Rewording): AppError {
  const errors = error.errors?.map((field) => how.fields?.[field.path] ?? field)
  const detail =
    how.detail ?? (errors?.length === 1 ? `${errors[0]?.path} ${errors[0]?.message}.` : error.detail)
  const reworded = new AppError(error.code, detail, errors, { cause: error })
  if (how.status === undefined) return reworded
  return Object.assign(reworded, { status: how.status, title: STATUS_CODES[how.status] ?? error.title })
}

/**
 * Runs `work`, rewording the catalogue errors named in `how` (by code). Anything else passes
 * through untouched.
 */
export async function inDialect<T>(work: Promise<T>, how: Partial<Record<ErrorCode, Rewording>>): Promise<T> {
  try {
    return await work
  } catch (error) {
    const rewording = error instanceof AppError ? how[error.code] : undefined
    throw rewording ? reword(error as AppError, rewording) : error
  }
}
