// The console's few building blocks over Chakra: a page section (card), a labelled field, the
// box results are shown in, and quiet text. Text that can be in any script carries dir="auto".
"use client";

import { Box, Card, CardBody, FormControl, FormLabel, Heading, Text, type BoxProps } from "@chakra-ui/react";
import type { ReactNode } from "react";

export function Section({ title, level = 2, children, ...rest }: { title?: ReactNode; level?: 1 | 2; children: ReactNode }
  & Omit<BoxProps, "title">) {
  return (
    <Card as="section" className="card" mb={4} variant="outline" {...rest}>
      <CardBody>
        {title ? <Heading as={level === 1 ? "h1" : "h2"} size={level === 1 ? "lg" : "md"} mb={3}>{title}</Heading> : null}
        {children}
      </CardBody>
    </Card>
  );
}

/** A labelled control; the control takes `id` from the FormControl (so the label points at it). */
export function Field({ id, label, children, ...rest }: { id: string; label: ReactNode; children: ReactNode } & BoxProps) {
  return (
    <FormControl id={id} mt={2} {...rest}>
      <FormLabel fontSize="sm" color="gray.600" mb={1}>{label}</FormLabel>
      {children}
    </FormControl>
  );
}

export function Output({ children, ...rest }: { children: ReactNode } & BoxProps) {
  return (
    <Box className="output" dir="auto" whiteSpace="pre-wrap" bg="gray.100" borderRadius="md" p={3} minH="2.5rem"
         fontSize="lg" mt={2} {...rest}>{children}</Box>
  );
}

export function Muted({ children, ...rest }: { children: ReactNode } & BoxProps) {
  return <Text className="muted" color="gray.600" fontSize="sm" mt={2} {...rest}>{children}</Text>;
}
