"use client";

import { Badge, Button, Code, Input, SimpleGrid, Table, TableContainer, Tbody, Td, Text, Th, Thead, Tr } from "@chakra-ui/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Clients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { Field, Output, Section } from "../../lib/ui";

/** API keys of the caller (an admin sees everyone's): create — the secret shown once — list, revoke;
 * and today's usage of the credential in use. */
export function Keys({ api, cacheKey }: { api: Clients; cacheKey: string }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("nmt");
  const keys = useQuery({
    queryKey: ["api-keys", cacheKey],
    queryFn: async () => (await api.auth.listApiKeys({ pageSize: 100, showRevoked: true })).apiKeys,
  });
  const usage = useQuery({
    queryKey: ["usage", cacheKey],
    queryFn: async () => (await api.metrics.getUsageSummary({})).today?.totals,
  });
  const create = useMutation({
    mutationFn: async () => api.auth.createApiKey({
      displayName: name, scopes: scopes.split(/[\s,]+/).filter(Boolean) }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["api-keys", cacheKey] }),
  });
  const revoke = useMutation({
    mutationFn: async (keyId: string) => api.auth.revokeApiKey({ keyId }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["api-keys", cacheKey] }),
  });
  return (
    <>
      <Section title={t("keys.usageTitle")}>
        <ErrorBox error={usage.error} />
        {usage.data ? (
          <Text id="usage">{t("keys.usage", { requests: String(usage.data.requestCount), errors: String(usage.data.errorCount),
                                             characters: String(usage.data.characters),
                                             seconds: usage.data.audioSeconds.toFixed(1) })}</Text>
        ) : null}
      </Section>
      <Section title={t("keys.title")}>
        <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4}>
          <Field id="key-name" label={t("keys.name")}>
            <Input type="text" value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field id="key-scopes" label={t("keys.scopes")}>
            <Input type="text" value={scopes} onChange={(e) => setScopes(e.target.value)} />
          </Field>
        </SimpleGrid>
        <Button id="key-create" colorScheme="blue" mt={3} isDisabled={!name || create.isPending} onClick={() => create.mutate()}>
          {t("keys.create")}</Button>
        <ErrorBox error={create.error} />
        {create.data ? (
          <Output fontSize="md">{t("keys.newKey")} <Code id="new-key" wordBreak="break-all">{create.data.key}</Code></Output>
        ) : null}
        <ErrorBox error={keys.error} />
        <ErrorBox error={revoke.error} />
        {/* Wrapping cells (not TableContainer's nowrap + scroll): the Revoke column stays in view. */}
        <TableContainer mt={4} whiteSpace="normal">
          <Table id="keys" size="sm">
            <Thead><Tr><Th>{t("keys.name")}</Th><Th>id</Th><Th>{t("keys.owner")}</Th><Th>{t("keys.scopesShort")}</Th>
              <Th>{t("keys.created")}</Th><Th /></Tr></Thead>
            <Tbody>
              {(keys.data ?? []).map((k) => (
                <Tr key={k.keyId} data-key={k.keyId} data-revoked={k.revokeTime ? "true" : "false"}>
                  <Td dir="auto" wordBreak="break-word">{k.displayName}</Td><Td><Code>{k.keyId}</Code></Td><Td>{k.owner}</Td>
                  <Td>{k.scopes.map((s) => <Badge key={s} me={1} textTransform="none">{s}</Badge>)}</Td>
                  <Td>{k.createTime ? new Date(Number(k.createTime.seconds) * 1000).toISOString().slice(0, 16).replace("T", " ") : ""}</Td>
                  <Td>{k.revokeTime ? <Badge colorScheme="gray">{t("keys.revoked")}</Badge> : (
                    <Button className="revoke" size="xs" colorScheme="red" variant="outline" onClick={() => revoke.mutate(k.keyId)}>
                      {t("keys.revoke")}</Button>)}</Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        </TableContainer>
      </Section>
    </>
  );
}
