"use client";

import { describeError, type ShownError } from "./api";

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const shown: ShownError =
    typeof error === "object" && error !== null && "fields" in error ? (error as ShownError) : describeError(error);
  return (
    <div className="error" role="alert" data-reason={shown.reason ?? ""}>
      <strong>{shown.code}</strong>
      {shown.reason ? <span className="reason"> {shown.reason}</span> : null}
      <div className="message" dir="auto">{shown.message}</div>
      {shown.fields.length > 0 ? (
        <ul className="fields">
          {shown.fields.map((f) => (
            <li key={f.field} data-field={f.field}>
              <code>{f.field}</code>: <span dir="auto">{f.description}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
