"use client";

import { Alert, AlertDescription, AlertIcon, AlertTitle, Badge, Box, Code, List, ListItem } from "@chakra-ui/react";
import { describeError, type ShownError } from "./api";

/** An error as the console shows it: the code, ErrorInfo's reason and the bad fields (role=alert;
 * `.error[data-reason]` and `li[data-field]` are what tests and users read). */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const shown: ShownError =
    typeof error === "object" && error !== null && "fields" in error ? (error as ShownError) : describeError(error);
  return (
    <Alert status="error" className="error" data-reason={shown.reason ?? ""} data-testid="error" mt={3}
           borderRadius="md" alignItems="flex-start">
      <AlertIcon />
      <Box>
        <AlertTitle>{shown.code}{shown.reason
          ? <Badge className="reason" colorScheme="red" ms={2} textTransform="none">{shown.reason}</Badge> : null}</AlertTitle>
        <AlertDescription className="message" dir="auto" display="block">{shown.message}</AlertDescription>
        {shown.fields.length > 0 ? (
          <List className="fields" mt={1}>
            {shown.fields.map((f) => (
              <ListItem key={f.field} data-field={f.field}>
                <Code>{f.field}</Code>
                {/* Many services put the same sentence in the message and the violation: say it once. */}
                {f.description && f.description !== shown.message ? <>: <span dir="auto">{f.description}</span></> : null}
              </ListItem>
            ))}
          </List>
        ) : null}
      </Box>
    </Alert>
  );
}
