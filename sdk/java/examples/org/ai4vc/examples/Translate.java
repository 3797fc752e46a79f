// Example: translate text with NmtService.TranslateText through the edge (Envoy).
//
//   AI4VC_API_KEY=... java -cp ... org.ai4vc.examples.Translate 127.0.0.1:8080 hi ur "text"
package org.ai4vc.examples;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.ai4vc.nmt.v1.NmtServiceGrpc;
import org.ai4vc.nmt.v1.TranslateTextRequest;
import org.ai4vc.nmt.v1.TranslateTextResponse;
import org.ai4vc.nmt.v1.Translation;

public final class Translate {
  private static final Metadata.Key<String> API_KEY =
      Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);

  private Translate() {}

  public static void main(String[] args) throws InterruptedException {
    String key = System.getenv("AI4VC_API_KEY");
    if (key == null || key.isEmpty() || args.length < 4) {
      System.err.println("usage: AI4VC_API_KEY=... Translate HOST:PORT FROM TO TEXT...");
      System.exit(2);
    }
    ManagedChannel channel = ManagedChannelBuilder.forTarget(args[0]).usePlaintext().build();
    try {
      Metadata headers = new Metadata();
      headers.put(API_KEY, key);
      NmtServiceGrpc.NmtServiceBlockingStub nmt = NmtServiceGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
          .withDeadlineAfter(15, TimeUnit.SECONDS);
      TranslateTextResponse answer = nmt.translateText(TranslateTextRequest.newBuilder()
          .addAllContents(Arrays.asList(args).subList(3, args.length))
          .setSourceLanguageCode(args[1])
          .setTargetLanguageCode(args[2])
          .build());
      for (Translation t : answer.getTranslationsList()) {
        System.out.println(t.getTranslatedText());
      }
    } catch (StatusRuntimeException e) {
      System.err.println("error: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription());
      System.exit(1);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
