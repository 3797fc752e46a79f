"use client";

import { Alert, AlertIcon, Box, Button, HStack, Input, SimpleGrid, Text } from "@chakra-ui/react";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { publicAuth } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { loadSession, saveSession, sessionFrom, useSession } from "../../lib/session";
import { Field, Muted, Section } from "../../lib/ui";

const clock = (ms: number) => (ms ? new Date(ms).toLocaleTimeString() : "?");

/** Sign-in with a user and password (AuthService Login → JWT access + refresh token, in this
 * tab's sessionStorage: lib/session.ts says why); sign-out is Logout, which ends the refresh
 * token at once and makes the edge refuse the access token. */
export function SignIn({ edgeUrl }: { edgeUrl: string }) {
  const { t } = useI18n();
  const session = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const login = useMutation({
    mutationFn: async () => {
      const answer = await publicAuth(edgeUrl).login({ username, password });
      saveSession(sessionFrom(username, answer));
      setPassword("");
    },
  });
  const logout = useMutation({
    mutationFn: async () => {
      const current = loadSession();
      // Signed out here whatever the edge answers: a dead refresh token is no reason to stay in.
      saveSession(null);
      if (current) await publicAuth(edgeUrl).logout({ refreshToken: current.refreshToken });
    },
  });
  return (
    <Section title={t("signin.title")} data-testid="signin-section">
      {session ? (
        <Box data-testid="signed-in">
          <Alert status="success" borderRadius="md">
            <AlertIcon />
            <Text>{t("signin.as")} <b id="signed-in-user">{session.username}</b> · {t("signin.until", { time: clock(session.accessExpiresAt) })}</Text>
          </Alert>
          <Muted>{t("signin.jwtNote")}</Muted>
          <Button id="signout" data-testid="signout" mt={3} colorScheme="red" variant="outline"
                  isDisabled={logout.isPending} onClick={() => logout.mutate()}>{t("signin.signOut")}</Button>
        </Box>
      ) : (
        <form id="signin" data-testid="signin-form" onSubmit={(e) => { e.preventDefault(); login.mutate(); }}>
          <Muted mt={0}>{t("signin.note")}</Muted>
          <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4}>
            <Field id="username" label={t("signin.username")}>
              <Input type="text" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
            </Field>
            <Field id="password" label={t("signin.password")}>
              <Input type="password" autoComplete="current-password" value={password}
                     onChange={(e) => setPassword(e.target.value)} />
            </Field>
          </SimpleGrid>
          <HStack mt={3}>
            <Button id="signin-submit" data-testid="signin-submit" type="submit" colorScheme="blue"
                    isDisabled={!username || !password || login.isPending}>
              {login.isPending ? t("signin.signingIn") : t("signin.signIn")}</Button>
          </HStack>
        </form>
      )}
      <ErrorBox error={login.error} />
      <ErrorBox error={logout.error} />
    </Section>
  );
}
