"use client";

import { Link, ListItem, Text, UnorderedList } from "@chakra-ui/react";
import NextLink from "next/link";
import { useI18n } from "../lib/i18n";
import { Section } from "../lib/ui";

export default function Home() {
  const { t } = useI18n();
  const pages = [["/asr/", "nav.asr", "home.asr"], ["/tts/", "nav.tts", "home.tts"], ["/nmt/", "nav.nmt", "home.nmt"],
                 ["/pipeline/", "nav.pipeline", "home.pipeline"]] as const;
  return (
    <Section title={t("app.title")} level={1}>
      <Text>{t("home.intro")}{" "}<Link as={NextLink} href="/settings/" color="blue.600">{t("nav.settings")}</Link></Text>
      <UnorderedList mt={3} spacing={1}>
        {pages.map(([href, label, what]) => (
          <ListItem key={href}><Link as={NextLink} href={href} color="blue.600" fontWeight="semibold">{t(label)}</Link>
            : {t(what)}</ListItem>
        ))}
      </UnorderedList>
    </Section>
  );
}
