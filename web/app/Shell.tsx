"use client";

import { Badge, Box, Container, Flex, HStack, Link, Select, Spacer, Text } from "@chakra-ui/react";
import NextLink from "next/link";
import type { ReactNode } from "react";
import { useI18n } from "../lib/i18n";
import { LOCALES, isLocale, type MessageKey } from "../lib/messages";
import { useSession } from "../lib/session";

const PAGES: { href: string; label: MessageKey; id: string }[] = [
  { href: "/asr/", label: "nav.asr", id: "asr" },
  { href: "/tts/", label: "nav.tts", id: "tts" },
  { href: "/nmt/", label: "nav.nmt", id: "nmt" },
  { href: "/pipeline/", label: "nav.pipeline", id: "pipeline" },
  { href: "/settings/", label: "nav.settings", id: "settings" },
];

/** The header (brand, pages, who is signed in, the interface language) around every page. */
export function Shell({ children }: { children: ReactNode }) {
  const { t, locale, setLocale } = useI18n();
  const session = useSession();
  return (
    <>
      <Box as="header" bg="blue.900" color="white" px={5} py={3}>
        <Flex align="center" gap={6} wrap="wrap">
          <Link as={NextLink} href="/" fontWeight="bold" className="brand" data-testid="brand">{t("app.title")}</Link>
          <HStack as="nav" spacing={4} wrap="wrap">
            {PAGES.map((p) => (
              <Link key={p.id} as={NextLink} href={p.href} data-testid={`nav-${p.id}`}>{t(p.label)}</Link>
            ))}
          </HStack>
          <Spacer />
          {session ? (
            <Badge colorScheme="green" data-testid="header-user" textTransform="none">
              {t("header.signedIn", { user: session.username })}</Badge>
          ) : null}
          <HStack>
            <Text as="label" htmlFor="locale" fontSize="sm">{t("header.language")}</Text>
            <Select id="locale" data-testid="locale" size="sm" w="auto" bg="white" color="gray.800" value={locale}
                    onChange={(e) => { if (isLocale(e.target.value)) setLocale(e.target.value); }}>
              {Object.entries(LOCALES).map(([code, l]) => <option key={code} value={code}>{l.name}</option>)}
            </Select>
          </HStack>
        </Flex>
      </Box>
      <Container as="main" maxW="960px" py={5}>{children}</Container>
    </>
  );
}
